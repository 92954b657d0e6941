// The standalone executable, built once for every caller (issue #6):
// scripts/build-binary.ts (dist/qtstatus) and the Debian package and image
// builds (scripts/build-deb.ts). esbuild bundles the sources (./bundle.ts);
// Node's own single-executable support (`node --build-sea`) injects the
// bundle, with a V8 code cache, into a copy of the pinned Node binary,
// stripped of its symbols when that still runs. NODE_OPTIONS and other Node
// flags from the environment are ignored (execArgvExtension "none").
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundle } from './bundle.ts';

export interface Sea {
  /** The executable: DIR/qtstatus. */
  output: string;
  /** The bundle it carries, and the Node binary it was made from (the caller may delete both). */
  main: string;
  base: string;
  stripped: boolean;
}

export async function buildSea(dir: string): Promise<Sea> {
  mkdirSync(dir, { recursive: true });
  const output = join(dir, 'qtstatus');
  rmSync(output, { force: true });
  const built = await bundle();
  const main = join(dir, 'qtstatus.cjs');
  if (built !== main) copyFileSync(built, main);
  // The Node that runs this script is the pinned one: the blob must match it.
  const base = join(dir, 'node-base');
  copyFileSync(process.execPath, base);
  chmodSync(base, 0o755);
  let stripped = false;
  try {
    execFileSync('strip', ['--strip-all', base], { stdio: 'pipe' });
    execFileSync(base, ['-e', '0'], { stdio: 'pipe' });
    stripped = true;
  } catch {
    copyFileSync(process.execPath, base); // no strip, or the stripped binary failed: keep it whole
  }
  const config = join(dir, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({ main, mainFormat: 'commonjs', executable: base, output, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, execArgvExtension: 'none' }, null, 2),
  );
  execFileSync(process.execPath, ['--build-sea', config], { stdio: 'pipe' });
  return { output, main, base, stripped };
}
