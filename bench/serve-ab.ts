// npm run bench:serve-ab -- /path/to/other/checkout — `qtstatus serve` of
// this tree (b) against another checkout's (a), side by side as in
// bench/serve.ts: same certificates, the load generator (bench/https-load.ts)
// taking turns between them every half second, rounds alternating which goes
// first, the median of the rounds' b/a ratios. For "run the benchmark before
// and after" (issue #10, defect 6): a change that costs throughput shows as a
// ratio under 1, whatever the machine's drift. The other checkout needs its
// own node_modules (a symlink to this one's will do). Loopback only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const node = process.execPath;
const baseline = resolve(process.argv[2] ?? '');
if (!process.argv[2]) {
  console.error('usage: npm run bench:serve-ab -- DIR   (DIR: another checkout of qtstatus, e.g. `git worktree add /tmp/base HEAD~5`)');
  process.exit(2);
}
const USER = 'bench_user@qt-test.com';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const MODES = (process.env.BENCH_MODES ?? 'keepalive').split(',') as Array<'keepalive' | 'new'>;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;

const dir = mkdtempSync(join(tmpdir(), 'qt-bench-ab-'));
const cli = (tree: string, args: string[]) => execFileSync(node, [join(tree, 'bin/qtstatus'), ...args], { stdio: 'pipe', env: { ...process.env, NO_COLOR: '1' } });
cli(here('..'), ['certs', 'init', '--dir', dir, '--key-type', 'ecdsa-p256', '--client', USER]);

const sink = spawn(node, [here('./udp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const udpPort = await new Promise<number>((ok, fail) => {
  sink.stdout.once('data', (d: Buffer) => ok(Number(String(d).trim())));
  sink.once('exit', () => fail(new Error('bench/udp-sink.ts did not start')));
});
const children: ChildProcess[] = [sink];
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function serve(tree: string, name: string): Promise<{ child: ChildProcess; url: string }> {
  const db = join(dir, `${name}-${Date.now()}.db`);
  cli(tree, ['users', 'add', USER, '--db', db]); // each tree makes its own schema
  const child = spawn(node, [join(tree, 'bin/qtstatus'), 'serve', '--host', '127.0.0.1', '--port', '0', '--db', db, '--cert', join(dir, 'server.crt'), '--key', join(dir, 'server.key'), '--ca', join(dir, 'ca.crt'), '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`, '--rate-limit', '0', '--log', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, QTSTATUS_LOOPBACK_ONLY: '1' },
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d));
  for (let i = 0; i < 400 && child.exitCode === null; i++) {
    const m = /serving (https:\/\/127\.0\.0\.1:\d+)/.exec(err);
    if (m) return { child, url: `${(m[1] as string).replace('127.0.0.1', 'localhost')}/api/client` };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not start: ${err}`);
}

async function load(urls: string[], mode: string): Promise<Array<{ url: string; rps: number; errors: number }>> {
  const child = spawn(node, [here('./https-load.ts'), ...urls.flatMap((u) => ['--url', u]), '--ca', join(dir, 'ca.crt'), '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key'), '--mode', mode, '--concurrency', '32', '--seconds', String(SECONDS * 2)]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await new Promise((r) => child.on('close', r));
  return JSON.parse(out);
}

console.log(`qtstatus serve A/B: (a) ${baseline} against (b) ${here('..')}; ${ROUNDS} rounds of ${SECONDS} s each, loopback only\n`);
for (const mode of MODES) {
  const ratios: number[] = [];
  const rates: Array<[number, number]> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await serve(baseline, 'a');
    const b = await serve(here('..'), 'b');
    const results = await load(i % 2 ? [a.url, b.url] : [b.url, a.url], mode);
    const of = (u: string) => results.find((r) => r.url === u) as { rps: number; errors: number };
    ratios.push(of(b.url).rps / of(a.url).rps);
    rates.push([of(a.url).rps, of(b.url).rps]);
    for (const s of [a, b]) s.child.kill('SIGTERM');
    await Promise.all([a, b].map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('close', r)))));
  }
  const m = median(ratios);
  const at = ratios.indexOf(m);
  console.log(`${mode}: b/a ${m.toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}); median round ${Math.round(rates[at]?.[0] ?? 0)} vs ${Math.round(rates[at]?.[1] ?? 0)} req/s`);
}
rmSync(dir, { recursive: true, force: true });
