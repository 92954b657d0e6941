// The schema, its migrations and the statements, written once for both
// engines. Placeholders are PostgreSQL's numbered `$1, $2, …`; the SQLite
// engine reads them as its own numbered `?1, ?2, …` (sqliteSql below), which
// bind by number in the same way, a repeated one included. Only the batch
// update (PG.seenBatch) is PostgreSQL's alone: SQLite runs the same rule as
// up to three small statements inside one transaction, which costs it less.

import type { ListQuery, UserRecord } from './store.ts';

export type Row = Record<string, unknown>;

/** Each entry moves the schema one version up; never edit a released one. */
export const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE users (
       email TEXT PRIMARY KEY,
       created_ns BIGINT NOT NULL,
       last_seen_ns BIGINT,
       ip TEXT,
       port INTEGER
     )`,
  ],
];

/**
 * A row of getUser or listUsers as a record, for both engines: SQLite reads
 * the 64-bit columns as bigint, PostgreSQL as text; BigInt takes either.
 */
export function toRecord(row: Record<string, unknown>): UserRecord {
  return {
    email: row.email as string,
    createdNs: BigInt(row.created_ns as bigint | string),
    lastSeenNs: row.last_seen_ns === null ? null : BigInt(row.last_seen_ns as bigint | string),
    ip: row.ip as string | null,
    port: row.port === null ? null : Number(row.port),
  };
}

export const SCHEMA_VERSION = MIGRATIONS.length;

export const SQL = {
  createVersionTable: 'CREATE TABLE IF NOT EXISTS qtstatus_schema (version INTEGER NOT NULL)',
  readVersion: 'SELECT version FROM qtstatus_schema',
  insertVersion: 'INSERT INTO qtstatus_schema (version) VALUES ($1)',
  updateVersion: 'UPDATE qtstatus_schema SET version = $1',
  addUser: 'INSERT INTO users (email, created_ns) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING',
  removeUser: 'DELETE FROM users WHERE email = $1',
  getUser: 'SELECT email, created_ns, last_seen_ns, ip, port FROM users WHERE email = $1',
  listUsers: 'SELECT email, created_ns, last_seen_ns, ip, port FROM users ORDER BY email',
  // Adding one user (SQLite: one statement per address, a batch per
  // transaction; PostgreSQL: PG.addUsers).
  // Recording an update (recordSeen) on SQLite is up to three statements,
  // the first the only one in the common case: without RETURNING, whose
  // result table costs a third of the update (bench/serve.ts).
  // 1. Parameters: now, ip, port, email. Last seen never moves backwards and
  //    the address belongs to the newest update: the row changes only if
  //    `now` is not older than the stored last seen.
  seenIfNewer: `UPDATE users SET last_seen_ns = $1, ip = $2, port = $3
                WHERE email = $4 AND (last_seen_ns IS NULL OR last_seen_ns <= $1)`,
  // 2. Parameters: email. A known user whose stored last seen is newer:
  //    nothing changes, the stored update (time, IP, port) is the answer.
  seenNotNewer: 'SELECT last_seen_ns, ip, port FROM users WHERE email = $1',
  // 3. Parameters: email, now (created), now (seen), ip, port. Auto-enrolment.
  enroll: `INSERT INTO users (email, created_ns, last_seen_ns, ip, port) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (email) DO NOTHING`,
  check: 'SELECT 1 AS ok',
} as const;

/**
 * `listUsers(query)` as one statement for both engines, with its parameters
 * (the times, in order). No index serves last_seen_ns (docs/architecture.md,
 * "Stores"): sorting or filtering by it reads the whole table once, which
 * both engines do in bounded memory (an external sort when it is large).
 */
export function listUsersSql(query: ListQuery = {}): { sql: string; params: bigint[] } {
  const where: string[] = [];
  const params: bigint[] = [];
  if (query.seenSinceNs !== undefined) {
    params.push(query.seenSinceNs);
    where.push(`last_seen_ns >= $${params.length}`);
  }
  if (query.notSeenSinceNs !== undefined) {
    params.push(query.notSeenSinceNs);
    where.push(`(last_seen_ns IS NULL OR last_seen_ns < $${params.length})`);
  }
  const order = query.order === 'last-seen' ? 'last_seen_ns DESC NULLS LAST, email' : 'email';
  return {
    sql: `SELECT email, created_ns, last_seen_ns, ip, port FROM users${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`,
    params,
  };
}

/** `$1` → `?1`: SQLite's numbered form of the same placeholder. */
export const sqliteSql = (sql: string): string => sql.replace(/\$(\d+)/g, '?$1');

// PostgreSQL: one statement for all the updates of one event-loop turn
// (group commit in one round trip). One row of arrays per distinct email,
// aggregated in order of arrival by seenBatchParams:
//   $1 email, $2 the newest update's time, $3 its ip, $4 its port;
//   $5 the first enrolling update's time (the user's created time if it is
//   enrolled now; NULL: no update of this email may enrol), $6-$8 the newest
//   update's time, ip and port from that one on.
// `old` locks the known users' rows in email order (two batches never wait
// on each other in a cycle) and reads their last seen as committed, after
// any concurrent batch that held them; `upd` writes only where this batch
// is not older (READ COMMITTED re-checks the row it waited for); `ins`
// enrols the unknown. The answer: each known email with its last seen
// before this batch (the store works out each update's answer in order of
// arrival, as SQLite's one-by-one statements give), and each enrolled email.
// An enrolling email in neither list was inserted by another process in the
// meantime: the store sends its updates again.
export const PG = {
  seenBatch: `WITH b AS (
      SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int4[], $5::int8[], $6::int8[], $7::text[], $8::int4[])
        AS b(email, now_ns, ip, port, e_created, e_now, e_ip, e_port)
    ), old AS (
      SELECT u.email, u.last_seen_ns, u.ip, u.port FROM users u JOIN b ON b.email = u.email ORDER BY u.email FOR UPDATE OF u
    ), upd AS (
      UPDATE users u SET last_seen_ns = b.now_ns, ip = b.ip, port = b.port
      FROM b JOIN old ON old.email = b.email
      WHERE u.email = b.email AND (old.last_seen_ns IS NULL OR old.last_seen_ns <= b.now_ns)
    ), ins AS (
      INSERT INTO users (email, created_ns, last_seen_ns, ip, port)
      SELECT b.email, b.e_created, b.e_now, b.e_ip, b.e_port FROM b
      WHERE b.e_created IS NOT NULL AND NOT EXISTS (SELECT 1 FROM old WHERE old.email = b.email)
      ORDER BY b.email
      ON CONFLICT (email) DO NOTHING
      RETURNING email
    )
    SELECT email, last_seen_ns::text AS seen, false AS enrolled, ip, port FROM old
    UNION ALL SELECT email, NULL, true, NULL, NULL FROM ins`,
  // The same for a batch in which no update may enrol (a server without
  // --auto-enroll: every batch): only $1-$4, no `ins`. The same rows as
  // seenBatch gives such a batch, for ~40% less of PostgreSQL's time per
  // batch (137 against 236 µs a round trip for 12 updates, docs/benchmarks.md).
  seenBatchKnown: `WITH b AS (
      SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int4[]) AS b(email, now_ns, ip, port)
    ), old AS (
      SELECT u.email, u.last_seen_ns, u.ip, u.port FROM users u JOIN b ON b.email = u.email ORDER BY u.email FOR UPDATE OF u
    ), upd AS (
      UPDATE users u SET last_seen_ns = b.now_ns, ip = b.ip, port = b.port
      FROM b JOIN old ON old.email = b.email
      WHERE u.email = b.email AND (old.last_seen_ns IS NULL OR old.last_seen_ns <= b.now_ns)
    )
    SELECT email, last_seen_ns::text AS seen, false AS enrolled, ip, port FROM old`,
  // Many users in one statement (`users add --from`): $1 the emails as a
  // text array, $2 the time. Inserted in email order, as seenBatch enrols,
  // so a bulk add and a server enrolling the same new users never wait on
  // each other in a cycle; duplicates within the array are skipped like
  // existing users (DO NOTHING). Returns the emails that were new.
  addUsers: `INSERT INTO users (email, created_ns)
      SELECT e, $2::int8 FROM unnest($1::text[]) AS e ORDER BY e
      ON CONFLICT (email) DO NOTHING
      RETURNING email`,
  /** Migrations from several processes at once take turns (any constant key of ours). */
  migrationLock: 'SELECT pg_advisory_xact_lock(7316253114230011)',
  /** check(): can this connection write (not a standby, not read-only)? */
  check: 'SELECT pg_is_in_recovery() AS standby, current_setting(\'transaction_read_only\') AS read_only',
} as const;

export interface SeenLike {
  email: string;
  nowNs: bigint;
  ip: string;
  port: number;
  enroll: boolean;
}

/** One email's updates within a batch, in order of arrival. */
export interface EmailBatch {
  email: string;
  now: bigint;
  ip: string;
  port: number;
  eCreated: bigint | null;
  eNow: bigint;
  eIp: string;
  ePort: number;
}

/** Groups a batch by email, in order of first arrival; a later update wins a tie. */
export function groupByEmail(updates: readonly SeenLike[]): Map<string, EmailBatch> {
  const by = new Map<string, EmailBatch>();
  for (const u of updates) {
    let g = by.get(u.email);
    if (!g) {
      g = { email: u.email, now: u.nowNs, ip: u.ip, port: u.port, eCreated: null, eNow: 0n, eIp: '', ePort: 0 };
      by.set(u.email, g);
    } else if (u.nowNs >= g.now) {
      g.now = u.nowNs;
      g.ip = u.ip;
      g.port = u.port;
    }
    if (g.eCreated === null && u.enroll) {
      g.eCreated = u.nowNs;
      g.eNow = u.nowNs;
      g.eIp = u.ip;
      g.ePort = u.port;
    } else if (g.eCreated !== null && u.nowNs >= g.eNow) {
      g.eNow = u.nowNs;
      g.eIp = u.ip;
      g.ePort = u.port;
    }
  }
  return by;
}

const textItem = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;
const arrayOf = (items: string[]) => `{${items.join(',')}}`;

/** A PostgreSQL text[] literal of `items`, each quoted and escaped. */
export const textArray = (items: readonly string[]): string => arrayOf(items.map(textItem));

/**
 * PG.seenBatch's parameters as array literals (text): every client sends
 * them the same way, with no per-client array encoding. Numbers are
 * written exactly (BigInt), text quoted and escaped.
 */
export function seenBatchParams(updates: readonly SeenLike[] | Map<string, EmailBatch>): string[] {
  const groups = [...(updates instanceof Map ? updates : groupByEmail(updates)).values()];
  const col = (f: (g: EmailBatch) => string) => arrayOf(groups.map(f));
  return [
    col((g) => textItem(g.email)),
    col((g) => String(g.now)),
    col((g) => textItem(g.ip)),
    col((g) => String(g.port)),
    col((g) => (g.eCreated === null ? 'NULL' : String(g.eCreated))),
    col((g) => (g.eCreated === null ? 'NULL' : String(g.eNow))),
    col((g) => (g.eCreated === null ? 'NULL' : textItem(g.eIp))),
    col((g) => (g.eCreated === null ? 'NULL' : String(g.ePort))),
  ];
}

/**
 * The statement and parameters for one batch: PG.seenBatch when some update
 * may enrol, PG.seenBatchKnown (four parameters) otherwise. Rows come back
 * as arrays (email, seen, enrolled, ip, port): fewer objects for every batch.
 */
export function seenBatchQuery(groups: Map<string, EmailBatch>): { name: string; text: string; values: string[]; rowMode: 'array' } {
  for (const g of groups.values()) if (g.eCreated !== null) return { name: 'qt_seen_batch', text: PG.seenBatch, values: seenBatchParams(groups), rowMode: 'array' };
  const all = [...groups.values()];
  const col = (f: (g: EmailBatch) => string) => arrayOf(all.map(f));
  return { name: 'qt_seen_known', text: PG.seenBatchKnown, values: [col((g) => textItem(g.email)), col((g) => String(g.now)), col((g) => textItem(g.ip)), col((g) => String(g.port))], rowMode: 'array' };
}

// Migrations, written once: a plan that yields each statement and is given
// its rows, so SQLite (synchronous) and PostgreSQL (asynchronous) each drive
// the same steps in their own transaction (runSync, runAsync). `where`
// names the database in errors.
export interface Step {
  sql: string;
  params?: unknown[];
}

export class NewerSchemaError extends Error {
  readonly version: number;
  constructor(version: number) {
    super(`schema version ${version}, newer than this qtstatus knows (${SCHEMA_VERSION})`);
    this.version = version;
  }
}

export function* migrationPlan(): Generator<Step, void, Row[]> {
  yield { sql: SQL.createVersionTable };
  const rows = yield { sql: SQL.readVersion };
  const row = rows[0];
  const version = row ? Number(row.version) : 0;
  if (version > SCHEMA_VERSION) throw new NewerSchemaError(version);
  for (let v = version; v < SCHEMA_VERSION; v++) {
    for (const sql of MIGRATIONS[v] ?? []) yield { sql };
  }
  if (row === undefined) yield { sql: SQL.insertVersion, params: [SCHEMA_VERSION] };
  else if (version !== SCHEMA_VERSION) yield { sql: SQL.updateVersion, params: [SCHEMA_VERSION] };
}

export function runSync(plan: Generator<Step, void, Row[]>, exec: (s: Step) => Row[]): void {
  for (let r = plan.next(); !r.done; ) r = plan.next(exec(r.value));
}

export async function runAsync(plan: Generator<Step, void, Row[]>, exec: (s: Step) => Promise<Row[]>): Promise<void> {
  for (let r = plan.next(); !r.done; ) r = plan.next(await exec(r.value));
}
