// One CommonJS bundle of the CLI and everything it imports (dist/qtstatus.cjs),
// for the standalone executable (scripts/build-binary.ts) and the npm package
// (`npm pack` runs it as prepack: issue #13). Node will not strip types under
// node_modules, so what npm installs is this plain JavaScript, and the
// package needs no dependencies at run time.
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = `${root}dist/qtstatus.cjs`;

/** Builds to a temporary name and renames: a build running beside (the tests') never reads half a bundle. */
export async function bundle(): Promise<string> {
  const temp = `${BUNDLE}.${process.pid}.tmp`;
  // What `qtstatus version` names: the commit and its date (reproducible: no build clock).
  let origin = { commit: 'unknown', date: 'unknown' };
  try {
    const [commit = 'unknown', date = 'unknown'] = execFileSync('git', ['log', '-1', '--format=%H %cI'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split(' ');
    origin = { commit, date };
  } catch {
    // not a git checkout: unknown
  }
  await build({
    entryPoints: [`${root}src/cli/sea-main.ts`],
    bundle: true,
    platform: 'node',
    format: 'cjs', // the SEA main; its dynamic imports become lazy requires
    target: 'node24', // the oldest Node the package supports
    minify: true,
    legalComments: 'none',
    // Optional native bindings some clients probe for; absent, they fall back.
    external: ['pg-native'],
    define: { QTSTATUS_BUILD: JSON.stringify(origin) },
    outfile: temp,
    logLevel: 'warning',
  });
  renameSync(temp, BUNDLE);
  return BUNDLE;
}

// On stderr: `npm pack --json` prints its JSON on stdout.
if (process.argv[1] === fileURLToPath(import.meta.url)) console.error(`bundled ${await bundle()}`);
