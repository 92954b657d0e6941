// npm run bench:users — issue #11's "a million users", all on loopback.
//
// For SQLite, and for PostgreSQL when QTSTATUS_TEST_PG or --pg URL names a
// server (a loopback URL of a role that may create databases; `eval "$(.ci/run
// --postgres)"` starts a throwaway cluster; this bench makes its own
// databases there and drops them at the end):
// 1. Load: `qtstatus users add --from FILE` (the real CLI) of 1,000,000
//    addresses in random order into a new database, timed; and of 100 into
//    another.
// 2. PATCH latency: `qtstatus serve` on each of the two databases, side by
//    side, with the load generator (bench/https-load.ts) taking turns
//    between them every half second, so both are measured under the same
//    machine conditions. The load is light (LOAD_CONCURRENCY keep-alive
//    clients, one identity each, spread over the million), so the latency is
//    the server's work rather than a queue. Median p50/p99 of the rounds.
//    Goal: with a million users, p50 and p99 within 1.2 times those with a
//    hundred (the email index, no scans).
// 3. `users list` memory: the peak RSS (VmHWM, read by the child itself at
//    exit) of `qtstatus users list` and `--json` to /dev/null, over the
//    million and over the hundred, alternately, medians. The list streams, so
//    the million should cost about what the hundred does.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCertificates } from '../src/pki/make.ts';
import { pgAdminUrl, pgDropDatabase, pgFreshDatabase, pgRun, pgSettings } from './pg-admin.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const node = process.execPath;
const BIN = here('../bin/qtstatus');
const MILLION = Number(process.env.BENCH_USERS ?? 1_000_000);
const HUNDRED = 100;
const LOAD_CONCURRENCY = 8;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4); // per server and round
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LIST_ROUNDS = Number(process.env.BENCH_LIST_ROUNDS ?? 3);
const medianOf = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const PG_ADMIN = pgAdminUrl('bench/users.ts');

const dir = mkdtempSync(join(tmpdir(), 'qt-bench-users-'));
const children = new Set<ReturnType<typeof spawn>>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], opts: { stdout?: number | 'pipe'; nodeArgs?: string[] } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t = performance.now();
    const child = spawn(node, [...(opts.nodeArgs ?? []), BIN, ...args], { stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d));
    child.stderr?.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr, ms: performance.now() - t });
    });
  });
}

// ---- the users and their client certificates ----
const IDENTITIES = Array.from({ length: LOAD_CONCURRENCY }, (_, i) => `bench_user${i}@qt-test.com`);
console.log(`qtstatus users benchmark: ${fmt(MILLION)} users against ${HUNDRED}, loopback only`);
await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: IDENTITIES, days: 30, caDays: 30, keyType: 'ecdsa-p256', force: false });
const certArgs = IDENTITIES.flatMap((e, i) => ['--cert', join(dir, i === 0 ? 'client.crt' : `${e}.crt`), '--key', join(dir, i === 0 ? 'client.key' : `${e}.key`)]);

/** `count` addresses, the identities among them spread evenly, in a shuffled order (a fixed seed). */
function addressFile(name: string, count: number): string {
  const lines: string[] = new Array(count);
  for (let i = 0; i < count; i++) lines[i] = `user${String(i).padStart(7, '0')}@bench.qt-test.com`;
  IDENTITIES.forEach((e, k) => (lines[Math.floor(((k + 0.5) * count) / IDENTITIES.length)] = e));
  let seed = 42;
  for (let i = count - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
  }
  const file = join(dir, name);
  writeFileSync(file, `# ${count} bench users\n${lines.join('\n')}\n`);
  return file;
}
const millionFile = addressFile('million.txt', MILLION);
const hundredFile = addressFile('hundred.txt', HUNDRED);

// ---- engines: SQLite files, PostgreSQL databases made for this run ----
interface Engine {
  name: string;
  small: string;
  big: string;
  note: string;
}
const engines: Engine[] = [{ name: 'SQLite', small: join(dir, 'hundred.db'), big: join(dir, 'million.db'), note: 'node:sqlite, WAL, synchronous=NORMAL' }];
const pgDatabases: string[] = [];
if (PG_ADMIN) {
  const urls: string[] = [];
  for (const size of ['hundred', 'million']) {
    const name = `qt_bench_users_${size}_${process.pid}`;
    pgDatabases.push(name);
    urls.push(await pgFreshDatabase(PG_ADMIN, name));
  }
  const settings = await pgSettings(PG_ADMIN, ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'work_mem']);
  engines.push({ name: 'PostgreSQL', small: urls[0] as string, big: urls[1] as string, note: `${new URL(PG_ADMIN).host}: ${settings}` });
} else {
  console.log('PostgreSQL: not measured (set QTSTATUS_TEST_PG=postgres://… or pass --pg URL; eval "$(.ci/run --postgres)" starts a throwaway cluster on loopback)');
}
const dropAll = async () => {
  for (const name of pgDatabases.splice(0)) await pgDropDatabase(PG_ADMIN as string, name).catch(() => {});
};

// ---- the UDP target of the servers: a bound port nobody reads (bench/udp-sink.ts) ----
const sink = spawn(node, [here('./udp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
children.add(sink);
const udpPort = await new Promise<number>((resolve, reject) => {
  sink.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  sink.once('exit', () => reject(new Error('bench/udp-sink.ts did not start')));
});
sink.stdout.destroy();

async function serve(db: string): Promise<{ url: string; stop: () => Promise<void>; startMs: number }> {
  const t = performance.now();
  const child = spawn(node, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--db', db, '--cert', join(dir, 'server.crt'), '--key', join(dir, 'server.key'), '--ca', join(dir, 'ca.crt'),
    '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`, '--rate-limit', '0', '--log', 'json'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, QTSTATUS_LOOPBACK_ONLY: '1' } });
  children.add(child);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  for (let i = 0; i < 2400; i++) {
    const m = /serving (https:\/\/127\.0\.0\.1:\d+)/.exec(err);
    if (m) {
      const startMs = performance.now() - t;
      const stop = async () => {
        const closed = new Promise((r) => child.on('close', r));
        child.kill('SIGTERM');
        await closed;
        children.delete(child);
      };
      return { url: (m[1] as string).replace('127.0.0.1', 'localhost'), stop, startMs };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`qtstatus serve --db ${db} did not start: ${err}`);
}

interface Load { url: string; requests: number; statuses: Record<string, number>; errors: number; rps: number; p50: number; p99: number }

async function load(urls: string[]): Promise<Load[]> {
  const child = spawn(node, [here('./https-load.ts'), ...urls.flatMap((u) => ['--url', `${u}/api/client`]), '--ca', join(dir, 'ca.crt'), ...certArgs, '--mode', 'keepalive', '--concurrency', String(LOAD_CONCURRENCY), '--seconds', String(SECONDS * urls.length)]);
  children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await new Promise((r) => child.on('close', r));
  children.delete(child);
  return JSON.parse(out) as Load[];
}

// The child reads its own high-water mark as it exits.
const hook = join(dir, 'vmhwm.mjs');
writeFileSync(hook, "import { readFileSync, writeSync } from 'node:fs';\nprocess.on('exit', () => writeSync(2, `\\nvmhwm-kb ${/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]}\\n`));\n");
async function listPeak(db: string, json: boolean): Promise<{ mb: number; ms: number }> {
  const out = openSync('/dev/null', 'w');
  try {
    const r = await run(['users', 'list', '--db', db, ...(json ? ['--json'] : [])], { stdout: out, nodeArgs: ['--import', hook] });
    const kb = Number(/vmhwm-kb (\d+)/.exec(r.stderr)?.[1]);
    if (r.code !== 0 || !Number.isFinite(kb)) throw new Error(`users list --db ${db} failed: ${r.stderr}`);
    return { mb: kb / 1024, ms: r.ms };
  } finally {
    closeSync(out);
  }
}

async function settled(e: Engine): Promise<void> {
  for (const db of [e.small, e.big]) {
    await pgRun(db, 'VACUUM ANALYZE users');
    await pgRun(db, 'CHECKPOINT').catch(() => {}); // superusers (and pg_checkpoint) only
  }
}

let failed = false;
const summary: string[] = [];
try {
  for (const e of engines) {
    console.log(`\n${e.name} (${e.note})`);
    // 1. Load.
    const add = async (db: string, file: string, count: number) => {
      const r = await run(['users', 'add', '--from', file, '--db', db, '--json']);
      const counts = JSON.parse(r.stdout || '{}') as { added?: number };
      if (r.code !== 0 || counts.added !== count) throw new Error(`users add into ${db}: ${r.stderr}`);
      return r.ms;
    };
    await add(e.small, hundredFile, HUNDRED);
    const loadMs = await add(e.big, millionFile, MILLION);
    console.log(`  load: users add --from (${fmt(MILLION)} addresses, random order): ${fmt(loadMs / 1000, 1)} s, ${fmt(MILLION / (loadMs / 1000))} addresses/s`);
    // PostgreSQL: a table in use, not one loaded a second ago: VACUUM
    // ANALYZE and a checkpoint, which autovacuum and the checkpointer would
    // otherwise do during the measurement. (SQLite's last connection
    // checkpointed and synced the file when the load closed it.)
    if (e.name === 'PostgreSQL') {
      const settle = performance.now();
      await settled(e);
      console.log(`  VACUUM ANALYZE and CHECKPOINT after the load: ${fmt((performance.now() - settle) / 1000, 1)} s`);
    }

    // 2. PATCH latency, the two servers side by side.
    const small = await serve(e.small);
    const big = await serve(e.big);
    console.log(`  serve start (includes the integrity check): ${fmt(small.startMs)} ms with ${HUNDRED} users, ${fmt(big.startMs)} ms with ${fmt(MILLION)}`);
    const rounds: Array<{ small: Load; big: Load }> = [];
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const results = await load(i % 2 === 0 ? [small.url, big.url] : [big.url, small.url]);
        const of = (url: string) => results.find((r) => r.url === `${url}/api/client`) as Load;
        const r = { small: of(small.url), big: of(big.url) };
        for (const x of [r.small, r.big]) {
          if (x.errors > 0 || (x.statuses['204'] ?? 0) !== x.requests) {
            console.log(`  round ${i + 1}: ${x.url}: ${x.requests} answered, statuses ${JSON.stringify(x.statuses)}, ${x.errors} errors`);
            failed = true;
          }
        }
        rounds.push(r);
      }
    } finally {
      await Promise.all([small.stop(), big.stop()]);
    }
    const med = (f: (r: { small: Load; big: Load }) => number) => medianOf(rounds.map(f));
    const line = (label: string, pick: 'small' | 'big') =>
      `  ${label.padEnd(16)} ${fmt(med((r) => r[pick].rps)).padStart(6)} req/s  p50 ${fmt(med((r) => r[pick].p50), 2)} ms  p99 ${fmt(med((r) => r[pick].p99), 2)} ms`;
    console.log(`  PATCH, keep-alive, ${LOAD_CONCURRENCY} clients (${LOAD_CONCURRENCY} users), ${ROUNDS} rounds of ${SECONDS} s per server, medians:`);
    console.log(line(`${HUNDRED} users`, 'small'));
    console.log(line(`${fmt(MILLION)} users`, 'big'));
    const p50 = rounds.map((r) => r.big.p50 / r.small.p50);
    const p99 = rounds.map((r) => r.big.p99 / r.small.p99);
    const ok = medianOf(p50) <= 1.2 && medianOf(p99) <= 1.2;
    console.log(`  ratio ${fmt(MILLION)}/${HUNDRED} users: p50 ${medianOf(p50).toFixed(2)} (rounds ${p50.map((x) => x.toFixed(2)).join(', ')}), p99 ${medianOf(p99).toFixed(2)} (rounds ${p99.map((x) => x.toFixed(2)).join(', ')}); goal <= 1.2: ${ok ? 'yes' : 'NO'}`);

    // 3. users list: peak memory, alternately.
    for (const json of [false, true]) {
      const peaks = { small: [] as number[], big: [] as number[], bigMs: [] as number[] };
      for (let i = 0; i < LIST_ROUNDS; i++) {
        const s = await listPeak(e.small, json);
        const b = await listPeak(e.big, json);
        peaks.small.push(s.mb);
        peaks.big.push(b.mb);
        peaks.bigMs.push(b.ms);
      }
      const ratio = medianOf(peaks.big) / medianOf(peaks.small);
      console.log(`  users list${json ? ' --json' : ''}: peak RSS ${fmt(medianOf(peaks.small))} MB over ${HUNDRED} users, ${fmt(medianOf(peaks.big))} MB over ${fmt(MILLION)} (${fmt(medianOf(peaks.bigMs) / 1000, 1)} s): ratio ${ratio.toFixed(2)}`);
      summary.push(`${e.name} list${json ? ' --json' : ''} ${ratio.toFixed(2)}`);
    }
    summary.push(`${e.name} load ${fmt(loadMs / 1000, 1)} s, PATCH p50 ${medianOf(p50).toFixed(2)} p99 ${medianOf(p99).toFixed(2)}`);
  }
} finally {
  sink.kill('SIGKILL');
  await dropAll();
}
console.log(`\nsummary: ${summary.join('; ')}`);
if (failed) process.exitCode = 1;
