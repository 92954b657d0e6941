// npm run bench:serve — issue #4's server benchmark, all on loopback.
// Same certificates and load generator (bench/https-load.ts) against
// (a) a bare Node https server with requestCert that answers 204 and
// (b) `qtstatus serve` with the SQLite store and a loopback UDP target:
// keep-alive PATCH throughput and new-connection (full handshake) rate, for
// ECDSA P-256 and RSA-2048. Checks that every acknowledged update was
// announced (the server's own UDP counters, from --metrics) and that the
// store holds the newest one. The UDP target is bench/udp-sink.ts (a bound
// port nobody reads; why there).
// This machine's speed drifts by tens of percent within a minute, so (a) and
// (b) run side by side and the load generator takes turns between them every
// half second: both are measured under the same conditions. Each round gives
// one ratio; the figure reported is the median of the rounds'.
// Goals: b/a >= 0.8 keep-alive, >= 0.9 new connections.
//
// With a PostgreSQL server (QTSTATUS_TEST_PG, or --pg URL: a loopback URL
// of a role that may create databases; `eval "$(.ci/run --postgres)"` starts
// a throwaway cluster), the keep-alive runs add (c) `qtstatus serve --db
// postgres://…` on a fresh database made for the run (dropped at the end),
// side by side with (a) and (b) in the same rounds: goal c/b >= 0.8. The
// cluster's durability settings are printed with the figures (the CI
// cluster runs with fsync=off).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCertificates } from '../src/pki/make.ts';
import { openStore } from '../src/store/open.ts';
import type { KeyType } from '../src/pki/keys.ts';
import { pgAdminUrl, pgDropDatabase, pgFreshDatabase, pgSettings } from './pg-admin.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const node = process.execPath;
const USER = 'bench_user@qt-test.com';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5); // per server and round
const CONCURRENCY = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1); // per server and round, not measured
const medianOf = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;

const PG_ADMIN = pgAdminUrl('bench/serve.ts');

/** A fresh database on the PostgreSQL server for this run, and how the cluster is set up. */
async function pgDatabase(admin: string): Promise<{ url: string; drop: () => Promise<void>; settings: string }> {
  const name = `qt_bench_serve_${process.pid}`;
  const url = await pgFreshDatabase(admin, name);
  const settings = await pgSettings(admin, ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_connections']);
  return { url, settings, drop: () => pgDropDatabase(admin, name) };
}

interface Load { url: string; requests: number; statuses: Record<string, number>; errors: number; rps: number; p50: number; p99: number; warmup: { requests: number; statuses: Record<string, number>; errors: number }; generatorCpuUs: number }

/** CPU time (user + system) of a process so far, in µs (Linux's USER_HZ is 100). */
function cpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** The PostgreSQL server's processes' CPU so far (its backends, WAL writer …), in µs; 0 when they are not ours to read. */
function pgCpuUs(): number {
  let sum = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') sum += cpuUs(Number(d));
    } catch {
      // gone, or not readable
    }
  }
  return sum;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const stderrOf = new Map<ChildProcess, string>();

async function started(child: ChildProcess): Promise<string> {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    stderrOf.set(child, err);
  });
  for (let i = 0; i < 400; i++) {
    const m = /serving (https:\/\/127\.0\.0\.1:\d+)/.exec(err);
    if (m) return (m[1] as string).replace('127.0.0.1', 'localhost');
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server did not start: ${err}`);
}

async function udpCounters(child: ChildProcess): Promise<{ sent: number; failed: number }> {
  const url = /metrics on (http:\S+)/.exec(stderrOf.get(child) ?? '')?.[1];
  const text = url ? await (await fetch(url)).text() : '';
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { sent: value('qtstatus_udp_packets_sent_total'), failed: value('qtstatus_udp_packets_failed_total') };
}

async function load(urls: string[], dir: string, mode: 'keepalive' | 'new'): Promise<Load[]> {
  const child = spawn(node, [here('./https-load.ts'), ...urls.flatMap((u) => ['--url', `${u}/api/client`]), '--ca', join(dir, 'ca.crt'), '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key'), '--mode', mode, '--concurrency', String(CONCURRENCY), '--seconds', String(SECONDS * urls.length), '--warmup-seconds', String(WARMUP * urls.length)]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.on('close', r));
  return JSON.parse(out) as Load[];
}

async function stop(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.on('close', r));
  child.kill('SIGTERM');
  await closed;
}

async function startServer(kind: 'bare' | 'qtstatus' | 'postgres', dir: string, udpPort: number, mode: 'keepalive' | 'new') {
  const db = kind === 'postgres' ? (pgUrl as string) : join(dir, `bench-${mode}.db`);
  if (kind !== 'bare') {
    const s = await openStore(db);
    await s.addUsers([USER], 1n);
    await s.close();
  }
  const args =
    kind === 'bare'
      ? [here('./bare-https.ts'), join(dir, 'server.crt'), join(dir, 'server.key'), join(dir, 'ca.crt')]
      : [here('../bin/qtstatus'), 'serve', '--host', '127.0.0.1', '--port', '0', '--db', db, '--cert', join(dir, 'server.crt'), '--key', join(dir, 'server.key'), '--ca', join(dir, 'ca.crt'),
         '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`, '--rate-limit', '0', '--log', 'json', '--metrics', '127.0.0.1:0'];
  const child = spawn(node, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, QTSTATUS_LOOPBACK_ONLY: '1' } });
  return { child, db, url: await started(child) };
}

/** One round: the servers side by side, the load taking turns between them. */
async function round(dir: string, udpPort: number, mode: 'keepalive' | 'new', bareFirst: boolean) {
  const bare = await startServer('bare', dir, udpPort, mode);
  const qt = await startServer('qtstatus', dir, udpPort, mode);
  const pgs = mode === 'keepalive' && pgUrl ? await startServer('postgres', dir, udpPort, mode) : undefined;
  const before = BigInt(Date.now()) * 1_000_000n;
  const order = [...(bareFirst ? [bare, qt] : [qt, bare]), ...(pgs ? [pgs] : [])];
  const cpu0 = order.map((s) => cpuUs(s.child.pid as number));
  const pg0 = pgs ? pgCpuUs() : 0;
  const results = await load(order.map((s) => s.url), dir, mode);
  const served = (s: (typeof order)[number]) => {
    const r = results.find((x) => x.url === `${s.url}/api/client`) as Load;
    return r.requests + r.errors + r.warmup.requests + r.warmup.errors;
  };
  // CPU per request (warm-up included): each server's own, PostgreSQL's, the load generator's.
  const cpu = {
    servers: new Map(order.map((s, i) => [s, (cpuUs(s.child.pid as number) - (cpu0[i] as number)) / Math.max(1, served(s))])),
    pg: pgs ? (pgCpuUs() - pg0) / Math.max(1, served(pgs)) : 0,
    generator: results[0]?.generatorCpuUs ?? NaN,
  };
  const after = BigInt(Date.now()) * 1_000_000n;
  const of = (url: string) => results.find((r) => r.url === `${url}/api/client`) as Load;
  const run = (s: typeof bare) => ({ result: of(s.url), rss: peakRssMb(s.child.pid as number), cpu: cpu.servers.get(s) ?? NaN });
  const checked = async (s: typeof bare) => ({ ...run(s), udp: await udpCounters(s.child) });
  const a = run(bare);
  const b = await checked(qt);
  const c = pgs ? await checked(pgs) : undefined;
  await Promise.all([bare, qt, ...(pgs ? [pgs] : [])].map((s) => stop(s.child)));
  // Every acknowledged update announced once; the store holds one from the round's end.
  const fresh = async (db: string) => {
    const s = await openStore(db);
    const stored = (await s.getUser(USER))?.lastSeenNs ?? 0n;
    await s.close();
    return stored >= before && stored <= after;
  };
  return { a, b: { ...b, fresh: await fresh(qt.db) }, c: c && pgs ? { ...c, fresh: await fresh(pgs.db), pgCpu: cpu.pg } : undefined, generatorCpu: cpu.generator };
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const row = (name: string, runs: Array<{ result: Load; rss: number }>) => {
  const r = [...runs].sort((x, y) => x.result.rps - y.result.rps)[Math.floor(runs.length / 2)] as (typeof runs)[number];
  const l = r.result;
  return `  ${name.padEnd(22)} ${fmt(l.rps).padStart(7)} req/s  p50 ${fmt(l.p50, 2).padStart(6)} ms  p99 ${fmt(l.p99, 2).padStart(6)} ms  peak RSS ${fmt(r.rss).padStart(4)} MB  (${l.requests} ok, ${l.errors} errors)`;
};

// The UDP target: a loopback port that is bound and never read (bench/udp-sink.ts).
const sink = spawn(node, [here('./udp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const udpPort = await new Promise<number>((resolve, reject) => {
  sink.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  sink.once('exit', () => reject(new Error('bench/udp-sink.ts did not start')));
});
sink.stdout.destroy();
process.once('exit', () => sink.kill('SIGKILL')); // also when a round throws

let pgUrl: string | undefined;
let pgDrop: (() => Promise<void>) | undefined;
let clusterSettings = '';
if (PG_ADMIN) {
  const made = await pgDatabase(PG_ADMIN);
  pgUrl = made.url;
  pgDrop = made.drop;
  clusterSettings = made.settings;
}

console.log(`qtstatus serve benchmark: ${CONCURRENCY} concurrent clients, ${ROUNDS} rounds of ${SECONDS} s per server (after ${WARMUP} s not measured), loopback only`);
console.log(pgUrl
  ? `PostgreSQL: (c) on a fresh database of ${new URL(PG_ADMIN as string).host} (${clusterSettings})\n`
  : 'PostgreSQL: not measured (set QTSTATUS_TEST_PG=postgres://… or pass --pg URL; eval "$(.ci/run --postgres)" starts a throwaway cluster on loopback)\n');
let failed = false;
try {
  for (const keyType of ['ecdsa-p256', 'rsa-2048'] as KeyType[]) {
    const dir = mkdtempSync(join(tmpdir(), 'qt-bench-'));
    try {
      await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: [USER], days: 30, caDays: 30, keyType, force: false });
      for (const mode of ['keepalive', 'new'] as const) {
        console.log(`${keyType}, ${mode === 'keepalive' ? 'keep-alive' : 'new connection per request'}: the median round`);
        const rounds = [];
        let ok = true;
        for (let i = 0; i < ROUNDS; i++) {
          const r = await round(dir, udpPort, mode, i % 2 === 0);
          rounds.push(r);
          for (const [name, x] of [['b', r.b], ['c', r.c]] as const) {
            if (!x) continue;
            const acked = x.result.statuses['204'] ?? 0;
            const warm = x.result.warmup.statuses['204'] ?? 0;
            if (x.udp.sent !== acked + warm || x.udp.failed !== 0 || !x.fresh || acked !== x.result.requests || x.result.warmup.errors !== 0) {
              console.log(`  round ${i + 1} (${name}): ${x.result.requests} answered, ${acked} updates acknowledged, ${x.udp.sent} announced, ${x.udp.failed} failed; stored from this run: ${x.fresh ? 'yes' : 'NO'}`);
              ok = false;
            }
          }
        }
        failed ||= !ok;
        const ratios = rounds.map((r) => r.b.result.rps / r.a.result.rps);
        console.log(row('(a) bare https, 204', rounds.map((r) => r.a)));
        console.log(row('(b) qtstatus serve', rounds.map((r) => r.b)));
        const pgRounds = rounds.flatMap((r) => (r.c ? [{ ...r, c: r.c }] : []));
        if (pgRounds.length > 0) console.log(row('(c) serve, PostgreSQL', pgRounds.map((r) => r.c)));
        const goal = mode === 'keepalive' ? 0.8 : 0.9;
        console.log(`  ratio b/a ${medianOf(ratios).toFixed(2)} (goal >= ${goal}; rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
        if (pgRounds.length > 0) {
          const pgRatios = pgRounds.map((r) => r.c.result.rps / r.b.result.rps);
          console.log(`  ratio c/b (PostgreSQL/SQLite) ${medianOf(pgRatios).toFixed(2)} (goal >= 0.8; rounds ${pgRatios.map((r) => r.toFixed(2)).join(', ')})`);
        }
        const med = (xs: number[]) => fmt(medianOf(xs));
        console.log(`  CPU per request (µs, medians): load generator ${med(rounds.map((r) => r.generatorCpu))}; (a) ${med(rounds.map((r) => r.a.cpu))}, (b) ${med(rounds.map((r) => r.b.cpu))}${pgRounds.length > 0 ? `, (c) ${med(pgRounds.map((r) => r.c.cpu))} + PostgreSQL's own ${med(pgRounds.map((r) => r.c.pgCpu))}` : ''}`);
        console.log(`  every acknowledged update announced and the newest stored: ${ok ? 'yes' : 'NO'}\n`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  sink.kill('SIGKILL');
  await pgDrop?.();
}
if (failed) process.exitCode = 1;
