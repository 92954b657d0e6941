// bench/pg-clients.ts — issue #11: which PostgreSQL client for the store?
// node-postgres (pg) against postgres.js, in the same run against the same
// local server, doing what the store does: every update of one event-loop
// turn goes in one statement (the store's own batch statement over unnest()
// arrays, ./../src/store/schema.ts), committed before its caller hears back;
// CONCURRENCY callers each await their update and send the next at once
// (keep-alive clients of `qtstatus serve`), over a pool of POOL connections.
// A baseline without group commit (one statement per update) shows what the
// batching is worth with each client. The clients take turns, round by round;
// the figures are the medians of the rounds.
//
//   QTSTATUS_TEST_PG=postgres://user@127.0.0.1:5432/postgres node bench/pg-clients.ts
//   (.ci/run --postgres starts a throwaway server and prints that variable)
//
// Only the chosen client is a dependency; to run this again with both:
//   npm install --no-save postgres && node bench/pg-clients.ts
import { performance } from 'node:perf_hooks';

const URL_ = process.env.QTSTATUS_TEST_PG ?? process.argv[2];
if (!URL_) {
  console.error('set QTSTATUS_TEST_PG=postgres://… (eval "$(.ci/run --postgres)" starts a throwaway server)');
  process.exit(2);
}
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const POOL = 4;
const USERS = 2000;

const { MIGRATIONS, PG, SQL, seenBatchParams } = await import('../src/store/schema.ts');

type Exec = (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;
interface Client { name: string; exec: Exec; end(): Promise<void> }

// The clients, each with the store's settings: prepared statements, a pool.
async function openPg(url: string): Promise<Client> {
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  let n = 0;
  const names = new Map<string, string>();
  return {
    name: 'node-postgres (pg)',
    exec: async (text, values) => {
      let name = names.get(text);
      if (!name) names.set(text, (name = `q${n++}`));
      return (await pool.query({ text, values: values as unknown[], name })).rows;
    },
    end: () => pool.end(),
  };
}

async function openPostgresJs(url: string): Promise<Client | undefined> {
  const mod = 'postgres'; // not a dependency once the choice is made: see the header
  const postgres = (await import(mod).catch(() => undefined))?.default as
    | ((url: string, o: object) => { unsafe(q: string, p: unknown[], o: object): Promise<Array<Record<string, unknown>>>; end(): Promise<void> })
    | undefined;
  if (!postgres) return undefined;
  const sql = postgres(url, { max: POOL, prepare: true, onnotice: () => {} });
  return {
    name: 'postgres.js',
    exec: (text, values) => sql.unsafe(text, values, { prepare: true }),
    end: () => sql.end(),
  };
}

interface Update { email: string; nowNs: bigint; ip: string; port: number; enroll: boolean }

/** The store's group commit: one statement per turn, at most POOL in flight. */
function groupCommit(exec: Exec) {
  let pending: Array<{ u: Update; done: () => void; fail: (e: unknown) => void }> = [];
  let scheduled = false;
  let inFlight = 0;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0 || inFlight >= POOL) return;
    const batch = pending;
    pending = [];
    inFlight++;
    exec(PG.seenBatch, seenBatchParams(batch.map((p) => p.u)))
      .then(() => batch.forEach((p) => p.done()), (e) => batch.forEach((p) => p.fail(e)))
      .finally(() => {
        inFlight--;
        flush();
      });
  };
  return (u: Update) =>
    new Promise<void>((done, fail) => {
      pending.push({ u, done, fail });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

/** One statement per update: what the batching saves. */
const oneByOne = (exec: Exec) => (u: Update) => exec(PG.seenBatch, seenBatchParams([u])).then(() => {});

async function run(record: (u: Update) => Promise<void>): Promise<{ rate: number; p50: number; p99: number }> {
  const end = performance.now() + SECONDS * 1000;
  const lat: number[] = [];
  let clock = BigInt(Date.now()) * 1_000_000n;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        const t = performance.now();
        await record({ email: `user${i % USERS}@example.com`, nowNs: clock++, ip: '127.0.0.1', port: 40000 + w, enroll: false });
        lat.push(performance.now() - t);
        i += CONCURRENCY;
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const at = (q: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? NaN;
  return { rate: lat.length / SECONDS, p50: at(0.5), p99: at(0.99) };
}

// A fresh database with the store's schema and USERS users.
const admin = await openPg(URL_);
const db = `qt_bench_clients_${process.pid}`;
await admin.exec(`CREATE DATABASE ${db}`, []);
const url = new URL(URL_);
url.pathname = `/${db}`;
const clients: Client[] = [await openPg(url.href)];
const pgjs = await openPostgresJs(url.href);
if (pgjs) clients.push(pgjs);
else console.log('postgres.js is not installed: node-postgres alone (npm install --no-save postgres for both)\n');
try {
  const c0 = clients[0] as Client;
  for (const m of MIGRATIONS) for (const s of m) await c0.exec(s, []);
  const emails = Array.from({ length: USERS }, (_, i) => `user${i}@example.com`);
  for (const e of emails) await c0.exec(SQL.addUser, [e, '1']);

  console.log(`PostgreSQL client benchmark: ${CONCURRENCY} callers, pool of ${POOL}, ${ROUNDS} rounds of ${SECONDS} s per client and mode, loopback\n`);
  const modes = [['group commit', groupCommit], ['one statement per update', oneByOne]] as const;
  const results = new Map<string, Array<{ rate: number; p50: number; p99: number }>>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [mode, make] of modes) {
      const order = r % 2 === 0 ? clients : [...clients].reverse();
      for (const c of order) {
        if (r === 0) await run(make(c.exec)); // warm-up
        const key = `${c.name}|${mode}`;
        if (!results.has(key)) results.set(key, []);
        (results.get(key) as unknown[]).push(await run(make(c.exec)));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  for (const [mode] of modes) {
    console.log(mode);
    const rates: number[] = [];
    for (const c of clients) {
      const rs = results.get(`${c.name}|${mode}`) ?? [];
      const rate = median(rs.map((x) => x.rate));
      rates.push(rate);
      console.log(`  ${c.name.padEnd(20)} ${fmt(rate).padStart(7)} updates/s  p50 ${fmt(median(rs.map((x) => x.p50)), 2)} ms  p99 ${fmt(median(rs.map((x) => x.p99)), 2)} ms  (rounds ${rs.map((x) => fmt(x.rate)).join(', ')})`);
    }
    if (rates.length === 2) {
      // Round by round, so the machine's drift cancels.
      const a = results.get(`${clients[0]?.name}|${mode}`) ?? [];
      const b = results.get(`${clients[1]?.name}|${mode}`) ?? [];
      const ratios = a.map((x, i) => (b[i]?.rate ?? NaN) / x.rate);
      console.log(`  postgres.js / pg: ${median(ratios).toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
    }
  }
} finally {
  await Promise.all(clients.map((c) => c.end()));
  await admin.exec(`DROP DATABASE IF EXISTS ${db}`, []);
  await admin.end();
}
