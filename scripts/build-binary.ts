// npm run build:binary — dist/qtstatus, one standalone executable for this
// platform (issue #6), offline: esbuild bundles the sources into one CommonJS
// file, and Node's own single-executable support (`node --build-sea`) injects
// it, with a V8 code cache, into a copy of the pinned Node binary, stripped of
// its symbols when that still runs. NODE_OPTIONS and other Node flags from the
// environment are ignored (execArgvExtension "none").
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
const base = `${dist}/node-base`;
const output = `${dist}/qtstatus`;
const mb = (file: string) => (statSync(file).size / 1048576).toFixed(1);

mkdirSync(dist, { recursive: true });
rmSync(output, { force: true });

const main = await bundle();

// The Node that runs this script is the pinned one: the blob must match it.
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

const config = `${dist}/sea-config.json`;
writeFileSync(
  config,
  JSON.stringify(
    {
      main,
      mainFormat: 'commonjs',
      executable: base,
      output,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      useSnapshot: false,
      execArgvExtension: 'none',
    },
    null,
    2,
  ),
);
execFileSync(process.execPath, ['--build-sea', config], { stdio: 'inherit' });
const version = execFileSync(output, ['--version']).toString().trim();
console.log(`built ${output}: qtstatus ${version}, ${mb(output)} MB (Node ${process.version} ${stripped ? 'stripped' : 'as is'}: ${mb(base)} MB; bundle ${mb(main)} MB)`);
