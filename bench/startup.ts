// npm run bench:startup — issue #6: `dist/qtstatus --version` against
// `node -e 0` of the same Node version (the one the executable is built
// from), alternating, 40 runs each; medians, the ratio and the sizes.
// Build first: npm run build:binary.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const exe = fileURLToPath(new URL('../dist/qtstatus', import.meta.url));
const base = fileURLToPath(new URL('../dist/node-base', import.meta.url));
if (!existsSync(exe)) {
  console.error('bench:startup: dist/qtstatus is missing; run npm run build:binary first');
  process.exit(1);
}
const RUNS = 40;
const env = { PATH: '/usr/bin:/bin' };

function time(file: string, args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < 5; i++) time(exe, ['--version']), time(process.execPath, ['-e', '0']); // warm the page cache
for (let i = 0; i < RUNS; i++) {
  a.push(time(process.execPath, ['-e', '0']));
  b.push(time(exe, ['--version']));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
const mb = (f: string) => statSync(f).size / 1048576;
console.log(`startup, median of ${RUNS} alternating runs (Node ${process.version}):`);
console.log(`  node -e 0              ${median(a).toFixed(1)} ms`);
console.log(`  dist/qtstatus --version ${median(b).toFixed(1)} ms   (${execFileSync(exe, ['--version']).toString().trim()})`);
console.log(`  ratio ${(median(b) / median(a)).toFixed(2)} (goal <= 1.15)`);
const baseMb = existsSync(base) ? mb(base) : mb(process.execPath);
console.log(`size: dist/qtstatus ${mb(exe).toFixed(1)} MB; the Node binary it is built from ${baseMb.toFixed(1)} MB (stripped; unstripped ${mb(process.execPath).toFixed(1)} MB): +${(mb(exe) - baseMb).toFixed(1)} MB (goal <= 5)`);
