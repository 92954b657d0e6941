// npm run bench:ping — issue #5's client benchmark, all on loopback.
// Against one `qtstatus serve` (SQLite store, UDP to this process, no rate
// limit), alternately: (a) a minimal undici loop (the same Agent options:
// client certificate, CA, one connection per concurrent request) and (b)
// `qtstatus ping --count N --concurrency C --json`, the same N and C. Each
// runs in its own process and reports requests/s from its first request to
// its last answer; the medians of a few rounds are compared. Goal: b/a >= 0.9.
//
// BENCH_COUNT (default 20000), BENCH_CONCURRENCY (16), BENCH_ROUNDS (5).
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const node = process.execPath;
const QTSTATUS = here('../bin/qtstatus');
const USER = 'bench_user@qt-test.com';

interface Result {
  requests: number;
  ok: number;
  seconds: number;
  rps: number;
  /** Wall time of the whole process, start-up included. */
  wallSeconds?: number;
}

// (a), in a child process: node bench/ping.ts --loop URL DIR N C
async function loop(url: string, dir: string, n: number, c: number): Promise<void> {
  const file = (f: string) => readFileSync(join(dir, f));
  const target = new URL(url);
  const agent = new Agent({
    connect: { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key'), servername: target.hostname },
    connections: c,
    pipelining: 1,
  });
  let next = 0;
  let ok = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        next++;
        const r = await agent.request({ origin: target.origin, path: target.pathname, method: 'PATCH' });
        await r.body.dump();
        if (r.statusCode === 204) ok++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  process.stdout.write(JSON.stringify({ requests: n, ok, seconds, rps: n / seconds }) + '\n');
}

function runChild(args: string[]): Promise<{ out: string; err: string; code: number | null; wall: number }> {
  const t0 = performance.now();
  const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // bounded, whatever happens
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, err, code, wall: (performance.now() - t0) / 1000 });
    }),
  );
}

async function baseline(url: string, dir: string, n: number, c: number): Promise<Result> {
  const r = await runChild([fileURLToPath(import.meta.url), '--loop', url, dir, String(n), String(c)]);
  if (r.code !== 0) throw new Error(`the undici loop failed: ${r.err}`);
  return { ...(JSON.parse(r.out) as Result), wallSeconds: r.wall };
}

async function qtstatusPing(url: string, dir: string, n: number, c: number): Promise<Result> {
  const f = (name: string) => join(dir, name);
  const r = await runChild([QTSTATUS, 'ping', url, '--cert', f('client.crt'), '--key', f('client.key'), '--ca', f('ca.crt'), '--count', String(n), '--concurrency', String(c), '--json']);
  if (r.code !== 0) throw new Error(`qtstatus ping failed (exit ${r.code}): ${r.err}`);
  const s = JSON.parse(r.out) as { completed: number; succeeded: number; seconds: number; requestsPerSecond: number };
  return { requests: s.completed, ok: s.succeeded, seconds: s.seconds, rps: s.requestsPerSecond, wallSeconds: r.wall };
}

async function startServe(dir: string, udpPort: number): Promise<{ child: ChildProcess; url: string }> {
  const f = (name: string) => join(dir, name);
  const add = await runChild([QTSTATUS, 'users', 'add', USER, '--db', f('bench.db')]);
  if (add.code !== 0) throw new Error(`users add failed: ${add.err}`);
  const child = spawn(
    node,
    [QTSTATUS, 'serve', '--host', '127.0.0.1', '--port', '0', '--db', f('bench.db'), '--cert', f('server.crt'), '--key', f('server.key'), '--ca', f('ca.crt'),
      '--rate-limit', '0', '--log', 'off', '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, QTSTATUS_LOOPBACK_ONLY: '1', NO_COLOR: '1' } },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 400; i++) {
    const m = /serving https:\/\/127\.0\.0\.1:(\d+)/.exec(err);
    if (m) return { child, url: `https://localhost:${m[1]}/api/client` };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`qtstatus serve did not start: ${err}`);
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_COUNT ?? 20_000);
  const c = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'qt-bench-ping-'));
  const udp = dgram.createSocket('udp4');
  let packets = 0;
  udp.on('message', () => packets++);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  let server: ChildProcess | undefined;
  try {
    const { initCertificates } = await import('../src/pki/make.ts');
    await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: [USER], days: 30, caDays: 30, keyType: 'rsa-2048', force: false });
    const started = await startServe(dir, udp.address().port);
    server = started.child;
    console.log(`qtstatus ping benchmark: ${n} PATCH requests, ${c} at a time, against qtstatus serve on loopback (RSA 2048, TLS 1.3)`);
    console.log(`${rounds} alternating rounds after a warm-up; requests/s from the first request to the last answer, start-up excluded\n`);
    await baseline(started.url, dir, Math.min(n, 2000), c); // warm-up: server JIT, SQLite pages
    const a: Result[] = [];
    const b: Result[] = [];
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    const line = (name: string, r: Result) =>
      `  ${name.padEnd(36)} ${fmt(r.rps).padStart(7)} requests/s  (${r.ok}/${r.requests} answered 204 in ${r.seconds.toFixed(2)} s; process ${r.wallSeconds?.toFixed(2)} s)`;
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round}`);
      a.push(await baseline(started.url, dir, n, c));
      console.log(line('(a) undici loop', a.at(-1) as Result));
      b.push(await qtstatusPing(started.url, dir, n, c));
      console.log(line('(b) qtstatus ping --count --json', b.at(-1) as Result));
    }
    const median = (rs: Result[]) => [...rs].sort((x, y) => x.rps - y.rps)[Math.floor(rs.length / 2)] as Result;
    const ma = median(a);
    const mb = median(b);
    console.log(`\nmedians: (a) ${fmt(ma.rps)} requests/s, (b) ${fmt(mb.rps)} requests/s; ratio b/a ${(mb.rps / ma.rps).toFixed(2)} (goal >= 0.9)`);
    const all = [...a, ...b].every((r) => r.ok === r.requests);
    console.log(`every request answered 204: ${all ? 'yes' : 'NO'}; UDP announcements received: ${fmt(packets)}`);
    if (!all) process.exitCode = 1;
  } finally {
    if (server && server.exitCode === null) {
      const closed = new Promise((r) => server?.on('close', r));
      server.kill('SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
    }
    udp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--loop') {
  const [url, dir, n, c] = process.argv.slice(3);
  await loop(url as string, dir as string, Number(n), Number(c));
} else {
  await main();
}
