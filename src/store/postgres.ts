// The shared store: PostgreSQL through node-postgres (pg), for several
// `qtstatus serve` processes (on one machine or many) on one database.
// Same schema, migrations and behaviour as SQLite (./schema.ts).
//
// - Pooled connections (a small pool per host), parameterised SQL, the hot
//   statements prepared per connection.
// - Group commit: the updates of one event-loop turn go in one statement
//   (PG.seenBatch), one round trip; each resolves once that statement is
//   committed. A few batches may be in flight at once, pipelined on one
//   connection held for the updates (the server runs them in order, so
//   they never wait for each other's row locks); reads and /healthz use
//   the pool's other connections. Several processes' batches on the same
//   users take turns on the row locks, in email order.
// - Several hosts (`postgres://u@primary,standby/db`): the one that last
//   worked is used; when it fails, the others are tried in order, and with
//   target_session_attrs=read-write (the default here) a standby is passed
//   over. A failover needs no restart.
// - Bounded: connecting, every query and every update have a time limit
//   (the server's --store-timeout for updates); a connection that misses it
//   is destroyed, never reused. An update not committed in time is
//   rejected (503), one that is committed resolves (204): never the other
//   way round. While the database is down, updates are retried within
//   their limit; the store recovers by itself when it returns.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { ErrorCodes, QtError } from '../errors.ts';
import { maskPasswords, parsePostgresUrl, passwordFromFile, type PgConfig, type PgHost } from './pg-config.ts';
import { groupByEmail, listUsersSql, migrationPlan, NewerSchemaError, PG, runAsync, seenBatchQuery, SQL, textArray, toRecord, type Row } from './schema.ts';
import type { ListQuery, Seen, SeenUpdate, Store, UserRecord } from './store.ts';

export interface PostgresOpenOptions {
  /** For commands that only read or remove: the database must already hold qtstatus's tables. */
  mustExist?: boolean;
  /** The server's bound: an update not committed within this many ms is rejected. */
  writeTimeoutMs?: number;
  /** At start: check that the tables have the columns qtstatus uses and that the host takes writes. */
  verify?: boolean;
  /** PGPASSWORD, PGPASSFILE, PGUSER, PGSSLMODE … as libpq reads them. */
  env?: Record<string, string | undefined>;
}

/** Connections per host. */
const POOL_MAX = 4;
/** Batches in flight at once, pipelined on the updates' connection. */
const MAX_IN_FLIGHT = 3;
/** Without a connect_timeout in the URL. */
const CONNECT_TIMEOUT_MS = 5000;
/** Commands (and a store opened without writeTimeoutMs): how long any query may take. */
const COMMAND_TIMEOUT_MS = 30_000;
/** /healthz's probe. */
const CHECK_TIMEOUT_MS = 2000;
/** Updates waiting this long make /healthz say degraded. */
const DEGRADED_AFTER_MS = 250;
/** A user enrolled by another process in the same instant: its updates are sent again, this often. */
const MAX_ATTEMPTS = 3;
/** listUsers fetches this many rows from its cursor at a time. */
const LIST_PAGE = 1000;

type Client = pg.PoolClient;

interface Problem {
  text: string;
  /** Plain advice, naming no option (the CLI's advice for `reason` names them: src/cli/hints.ts). */
  hint?: string;
  reason?: string;
  /** A connection-level failure: another connection, host or moment may succeed. */
  retryable: boolean;
}

const errorCode = (err: unknown): string | undefined => (err as { code?: string })?.code;

/** What went wrong, in words, without the password (pg's messages never hold it; masked all the same). */
export function describeProblem(err: unknown, cfg: Pick<PgConfig, 'user' | 'database'>): Problem {
  if (err instanceof QtError) return { text: err.message, hint: err.hint, retryable: false };
  const code = errorCode(err);
  const msg = maskPasswords(String((err as Error)?.message ?? err));
  const auth = 'check the password: in the URL, PGPASSWORD, or the password file (passfile= in the URL, PGPASSFILE, ~/.pgpass)';
  switch (code) {
    case '28P01':
      return { text: `password authentication failed for user ${JSON.stringify(cfg.user)}`, hint: auth, reason: 'db_password_refused', retryable: false };
    case '28000':
      return /no pg_hba\.conf entry/.test(msg)
        ? { text: msg, hint: 'the server does not let this user connect from here (pg_hba.conf), or wants TLS: try sslmode=require', retryable: false }
        : { text: msg, hint: 'check the user name in the URL', reason: 'db_user_refused', retryable: false };
    case '3D000':
      return { text: `database ${JSON.stringify(cfg.database)} does not exist`, hint: `create it (createdb ${cfg.database}) or fix the database name in the URL`, reason: 'db_missing', retryable: false };
    case 'ECONNREFUSED':
      return { text: 'connection refused', hint: 'is PostgreSQL running there? Check the host and port in the URL', reason: 'db_refused', retryable: true };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { text: 'cannot resolve the host name', hint: 'check the host name in the URL', reason: 'db_host_unresolved', retryable: code === 'EAI_AGAIN' };
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
      return { text: `${code}: ${msg}`, retryable: true };
    case '57P01':
    case '57P02':
    case '57P03':
      return { text: `the server is shutting down or starting (${msg})`, retryable: true };
    case '25006':
      return { text: 'the server is read-only (a standby)', hint: 'name the primary in the URL, or every host: postgres://user@primary,standby/db', reason: 'db_read_only', retryable: true };
    case '40001':
    case '40P01':
    case '55P03':
      return { text: msg, retryable: true };
    case '57014':
      return { text: 'the query took too long (statement_timeout)', retryable: true };
    case '53300':
      return { text: 'the server has no free connection slots', hint: 'raise max_connections, or run fewer server processes', reason: 'db_no_slots', retryable: true };
    default:
      break;
  }
  if (/self[- ]signed|unable to verify|certificate|altname|UNABLE_TO_GET_ISSUER|CERT_/i.test(`${code} ${msg}`)) {
    return { text: `the server's TLS certificate is not trusted: ${msg}`, hint: 'give sslrootcert= the CA that signed it; with sslmode=verify-full the host name in the URL must be among its names', retryable: false };
  }
  if (/does not support SSL/i.test(msg)) return { text: 'the server does not accept TLS', hint: 'turn ssl on in the server, or lower sslmode', retryable: false };
  if (/timeout|timed out|Connection terminated/i.test(msg)) return { text: msg, retryable: true };
  if (code?.startsWith('08')) return { text: msg, retryable: true };
  return { text: msg, retryable: !code || !/^[0-9A-Z]{5}$/.test(code) };
}

const hostText = (h: PgHost) => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`);

function tlsFor(cfg: PgConfig, tls: boolean): ConnectionOptions | false {
  if (!tls) return false;
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new QtError(ErrorCodes.FILE, `cannot read the ${what} ${file} (named in the database URL)`, { cause: err, setting: 'db', path: file });
    }
  };
  const o: ConnectionOptions = {};
  if (cfg.sslcert) o.cert = read(cfg.sslcert, 'client certificate (sslcert)');
  if (cfg.sslkey) o.key = read(cfg.sslkey, 'client key (sslkey)');
  const root = cfg.sslrootcert && cfg.sslrootcert !== 'system' ? read(cfg.sslrootcert, 'CA certificate (sslrootcert)') : undefined;
  if (root) o.ca = root;
  const verify = cfg.sslmode === 'verify-full' || cfg.sslmode === 'verify-ca' || (cfg.sslmode === 'require' && root !== undefined);
  o.rejectUnauthorized = verify;
  if (verify && cfg.sslmode !== 'verify-full') o.checkServerIdentity = () => undefined; // the chain only, as libpq's verify-ca
  return o;
}

/** Hard close: a connection that missed its time limit may be stuck in the network. */
function destroy(client: Client, why: Error): void {
  try {
    client.release(why);
  } catch {
    // released already
  }
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

const timeout = (ms: number) => new Error(`no answer within ${ms} ms`);

/** The pools, one per host, and which host is in use. */
class Hosts {
  private readonly cfg: PgConfig;
  private readonly connectMs: number;
  private readonly settings: Record<string, string>;
  private readonly pools = new Map<number, pg.Pool>();
  /** Per host: TLS on (sslmode prefer/allow may switch it once). */
  private readonly tls: boolean[];
  private readonly checked = new WeakSet<object>();
  current = 0;
  closed = false;

  constructor(cfg: PgConfig, connectMs: number, settings: Record<string, string>) {
    this.cfg = cfg;
    this.connectMs = connectMs;
    this.settings = settings;
    this.tls = cfg.hosts.map(() => cfg.sslmode !== 'disable' && cfg.sslmode !== 'allow');
    for (let i = 0; i < cfg.hosts.length; i++) tlsFor(cfg, this.tls[i] as boolean); // files readable? (throws now, not per connection)
  }

  host(i: number): PgHost {
    return this.cfg.hosts[i] as PgHost;
  }

  private pool(i: number): pg.Pool {
    let p = this.pools.get(i);
    if (p) return p;
    const h = this.host(i);
    const cfg = this.cfg;
    const options = Object.entries(this.settings)
      .map(([k, v]) => `-c ${k}=${v.replace(/[\\ ]/g, '\\$&')}`)
      .join(' ');
    p = new pg.Pool({
      host: h.host,
      port: h.port,
      user: cfg.user,
      database: cfg.database,
      // Asked only when the server wants one; pg calls it on the client.
      password: async function (this: unknown) {
        try {
          const pw = cfg.password ?? passwordFromFile(cfg.passfile, h, cfg.database, cfg.user);
          if (pw === undefined) {
            throw new QtError(ErrorCodes.STORE, `the server asks for a password for user ${JSON.stringify(cfg.user)} and none was given`, {
              hint: 'put it in the URL, PGPASSWORD, or a password file (passfile= in the URL, PGPASSFILE, ~/.pgpass)',
              reason: 'db_no_password',
              setting: 'db',
            });
          }
          return pw;
        } catch (err) {
          // pg leaves the connection open when this fails: the server would wait for the password.
          const stream = (this as { connection?: { stream?: { destroy(): void } } })?.connection?.stream;
          setImmediate(() => stream?.destroy());
          throw err;
        }
      },
      ssl: tlsFor(cfg, this.tls[i] as boolean),
      connectionTimeoutMillis: this.connectMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: cfg.applicationName,
      options: options || undefined,
      max: POOL_MAX,
      // The updates' connection sends each batch without waiting for the
      // one before it (PostgresStore.writerFor); others send one query at a
      // time, as always. Every query still ends in its own Sync, so one
      // that fails fails alone (node-postgres.com/features/pipelining).
      pipeline: true,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    p.on('error', () => {}); // an idle connection that died: the pool drops it, the next query opens another
    this.pools.set(i, p);
    return p;
  }

  /** A connection from the host in use, or the next that answers; `deadline` bounds the whole search. */
  async acquire(deadline: number, what: string): Promise<{ client: Client; host: number }> {
    const failures: string[] = [];
    let retryable = true;
    let hint: string | undefined;
    let reason: string | undefined;
    let cause: unknown;
    const n = this.cfg.hosts.length;
    for (let k = 0; k < n; k++) {
      const i = (this.current + k) % n;
      if (this.closed) throw new QtError(ErrorCodes.STORE, `${what}: the store is closed`);
      const left = deadline - Date.now();
      if (left <= 0) {
        failures.push(`${hostText(this.host(i))}: not tried, out of time`);
        break;
      }
      try {
        const client = await this.connect(i, left);
        this.current = i;
        return { client, host: i };
      } catch (err) {
        const p = describeProblem(err, this.cfg);
        failures.push(`${hostText(this.host(i))}: ${p.text}`);
        retryable &&= p.retryable;
        hint ??= p.hint;
        reason ??= p.reason;
        cause ??= err;
      }
    }
    const where = n === 1 ? `PostgreSQL at ${hostText(this.host(0))}` : `any PostgreSQL host (${failures.length} tried)`;
    const err = new QtError(ErrorCodes.STORE, `${what}: cannot connect to ${where} (database ${JSON.stringify(this.cfg.database)}, user ${JSON.stringify(this.cfg.user)}): ${n === 1 ? (failures[0] ?? '').replace(/^[^ ]+: /, '') : failures.join('; ')}`, { cause, hint, reason, setting: 'db', facts: { database: this.cfg.database } });
    (err as QtError & { retryable?: boolean }).retryable = retryable;
    throw err;
  }

  private async connect(i: number, left: number): Promise<Client> {
    const pool = this.pool(i);
    let timer: NodeJS.Timeout | undefined;
    const connecting = pool.connect();
    let client: Client;
    try {
      client = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timeout(left)), left))),
      ]);
    } catch (err) {
      connecting.then((c) => c.release(), () => {}); // came too late: back to the pool
      const msg = String((err as Error)?.message);
      // sslmode prefer: a server without TLS is fine; allow: one that wants it gets it.
      if ((this.cfg.sslmode === 'prefer' && /does not support SSL/i.test(msg)) || (this.cfg.sslmode === 'allow' && !this.tls[i] && /no encryption/.test(msg))) {
        this.tls[i] = !this.tls[i];
        this.pools.delete(i);
        pool.end().catch(() => {});
        return this.connect(i, Math.max(1, left - 1));
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (!this.checked.has(client)) {
      client.on('error', () => {}); // a connection that dies while in use fails its query; nothing else to do
      if (this.cfg.targetSessionAttrs !== 'any') {
        try {
          const r = await this.query(client, { name: 'qt_check', text: PG.check }, Math.max(1, left));
          const row = r.rows[0] as Row | undefined;
          if (row?.standby === true || (this.cfg.targetSessionAttrs === 'read-write' && row?.read_only === 'on')) {
            destroy(client, new Error('standby'));
            throw new QtError(ErrorCodes.STORE, row?.standby === true ? 'a standby (read-only), not the primary' : 'read-only (default_transaction_read_only)');
          }
        } catch (err) {
          if (!(err instanceof QtError)) destroy(client, err as Error);
          throw err;
        }
      }
      this.checked.add(client);
    }
    return client;
  }

  /** One query with a time limit; a connection that misses it is destroyed. */
  async query(client: Client, q: pg.QueryConfig, ms: number): Promise<pg.QueryResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        client.query(q),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timeout(ms)), ms))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One query whose rows are handed to `each` as they are parsed, with a
   * time limit. pg's own result keeps every row until the command completes;
   * for listUsers' pages that retention made the young generation survive
   * every scavenge (peak RSS 150 MB over a million users, against 70 MB with
   * rows taken one by one: bench/users.ts, issue #11).
   */
  async eachRow(client: Client, text: string, ms: number, each: (row: Row) => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const query = new pg.Query({ text });
    // A throw inside pg's parser callback would escape as an uncaught
    // exception; it is kept and the query fails with it at its end.
    let thrown: unknown;
    query.on('row', (row: Row) => {
      if (thrown === undefined) {
        try {
          each(row);
        } catch (err) {
          thrown = err ?? new Error('a row could not be read');
        }
      }
    });
    const done = new Promise<void>((resolve, reject) => {
      query.on('end', () => (thrown === undefined ? resolve() : reject(thrown)));
      query.on('error', reject);
    });
    try {
      client.query(query);
      await Promise.race([done, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timeout(ms)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The host in use answered as a standby: try the others first next time. */
  passOver(i: number): void {
    if (this.current === i) this.current = (i + 1) % this.cfg.hosts.length;
  }

  async end(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }
}

/** The connection the updates go over (PostgresStore.writerFor). */
interface Writer {
  client: Client;
  /** Which of the URL's hosts it is on. */
  host: number;
  /** Destroyed or given back: the next batch takes another. */
  dropped: boolean;
}

interface Pending {
  update: SeenUpdate;
  queuedAt: number;
  deadline: number;
  attempts: number;
  resolve: (v: Seen | undefined) => void;
  reject: (err: unknown) => void;
}


export class PostgresStore implements Store {
  readonly description: string;
  private readonly cfg: PgConfig;
  private readonly hosts: Hosts;
  private readonly writeTimeoutMs: number;
  private readonly server: boolean;

  private constructor(cfg: PgConfig, opts: PostgresOpenOptions) {
    this.cfg = cfg;
    this.description = cfg.masked;
    this.server = opts.writeTimeoutMs !== undefined;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? COMMAND_TIMEOUT_MS;
    const connectMs = Math.min(cfg.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, this.server ? Math.max(this.writeTimeoutMs, 100) : Infinity);
    const queryMs = this.server ? Math.max(this.writeTimeoutMs, 100) : COMMAND_TIMEOUT_MS;
    // The server's own limits, so nothing waits there longer than we do.
    this.hosts = new Hosts(cfg, connectMs, {
      statement_timeout: String(queryMs),
      lock_timeout: String(queryMs),
      idle_in_transaction_session_timeout: String(Math.max(queryMs, 10_000)),
      // One plan per prepared statement, made once per connection. Left to
      // choose, PostgreSQL planned the batch statement afresh for every
      // batch of a few updates on a large table (its estimate for a custom
      // plan of a short array beats the generic plan's), ~0.4 ms each:
      // PATCH p50 1.4 times that with a hundred users (bench/users.ts). The
      // generic plan is the right one at any size: index lookups by email.
      // (PostgreSQL 12 or later; the URL's options= may override it.)
      plan_cache_mode: 'force_generic_plan',
      ...cfg.settings,
    });
  }

  /** Connects (to the first host that answers), then migrates and, with `verify`, checks the schema. */
  static async open(url: string, opts: PostgresOpenOptions = {}): Promise<PostgresStore> {
    const cfg = parsePostgresUrl(url, opts.env ?? {});
    const store = new PostgresStore(cfg, opts);
    try {
      await store.prepare(opts);
    } catch (err) {
      await store.hosts.end();
      throw err;
    }
    return store;
  }

  private fail(what: string, err: unknown): QtError {
    if (err instanceof QtError) return err;
    const p = describeProblem(err, this.cfg);
    const e = new QtError(ErrorCodes.STORE, `${what} (${this.description}): ${p.text}`, { cause: err, hint: p.hint, reason: p.reason, setting: 'db', facts: { database: this.cfg.database } });
    (e as QtError & { retryable?: boolean }).retryable = p.retryable;
    return e;
  }

  /** A connection for `fn`, within `ms`: from the pool, or from the next host that answers. */
  private async withClient<T>(what: string, ms: number, fn: (c: Client, host: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + ms;
    const { client, host } = await this.hosts.acquire(deadline, what);
    try {
      const value = await fn(client, host);
      client.release();
      return value;
    } catch (err) {
      const p = describeProblem(err, this.cfg);
      if (p.retryable || /no answer within/.test(String((err as Error)?.message))) destroy(client, err as Error);
      else client.release();
      if (errorCode(err) === '25006') this.hosts.passOver(host);
      throw this.fail(what, err);
    }
  }

  private q(client: Client, sql: string, params: unknown[] = [], name?: string): Promise<pg.QueryResult> {
    return this.hosts.query(client, { text: sql, values: params, ...(name ? { name } : {}) }, this.server ? this.writeTimeoutMs : COMMAND_TIMEOUT_MS);
  }

  private async prepare(opts: PostgresOpenOptions): Promise<void> {
    const ms = Math.max(this.cfg.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, 1000) + COMMAND_TIMEOUT_MS;
    await this.withClient('cannot open the database', ms, async (c) => {
      if (opts.mustExist) {
        const r = await this.q(c, "SELECT to_regclass('qtstatus_schema') IS NOT NULL AS ok");
        if ((r.rows[0] as Row | undefined)?.ok !== true) {
          throw new QtError(ErrorCodes.STORE, `there is no qtstatus database at ${this.description}: its tables are missing`, {
            hint: 'add users first (that creates them), or give the database the server uses',
            reason: 'db_no_schema',
            setting: 'db',
          });
        }
      }
      await this.q(c, 'BEGIN');
      try {
        await this.q(c, PG.migrationLock);
        await runAsync(migrationPlan(), async (s) => (await this.q(c, s.sql, s.params ?? [])).rows as Row[]);
        await this.q(c, 'COMMIT');
      } catch (err) {
        await this.q(c, 'ROLLBACK').catch(() => {});
        if (err instanceof NewerSchemaError) {
          throw new QtError(ErrorCodes.STORE, `the database ${this.description} has ${err.message}`, { hint: 'upgrade qtstatus' });
        }
        throw err;
      }
      if (opts.verify) {
        try {
          await this.q(c, `${SQL.listUsers} LIMIT 0`);
        } catch (err) {
          throw new QtError(ErrorCodes.STORE, `the table users in ${this.description} is not as qtstatus made it: ${String((err as Error).message)}`, {
            cause: err,
            hint: 'use a database of its own for this',
            reason: 'db_foreign_table',
            setting: 'db',
          });
        }
      }
    });
  }

  /** One statement for the whole list (PG.addUsers: unnest, in email order). */
  async addUsers(emails: string[], nowNs: bigint): Promise<string[]> {
    if (emails.length === 0) return [];
    const rows = await this.withClient('cannot add users', COMMAND_TIMEOUT_MS, async (c) => (await this.q(c, PG.addUsers, [textArray(emails), String(nowNs)], 'qt_add_many')).rows as Row[]);
    const fresh = new Set(rows.map((r) => r.email as string));
    // In the order given, each once.
    return emails.filter((e) => fresh.delete(e));
  }

  removeUser(email: string): Promise<boolean> {
    return this.withClient('cannot remove the user', COMMAND_TIMEOUT_MS, async (c) => ((await this.q(c, SQL.removeUser, [email])).rowCount ?? 0) > 0);
  }

  getUser(email: string): Promise<UserRecord | undefined> {
    return this.withClient('cannot read the user', COMMAND_TIMEOUT_MS, async (c) => {
      const row = (await this.q(c, SQL.getUser, [email], 'qt_get')).rows[0] as Row | undefined;
      return row && toRecord(row);
    });
  }

  /**
   * Streams through a server-side cursor on one pooled connection: DECLARE
   * … WITH HOLD in a short transaction, then FETCH LIST_PAGE rows at a time
   * outside it. WITH HOLD because a reader may be slow (`users list |
   * less`): the rows are the snapshot of that commit, kept by the server
   * (in a temporary file when large) until CLOSE, so no transaction stays
   * open while the reader reads: nothing holds back vacuum on a table every
   * update rewrites, and no idle-in-transaction timeout can cut the listing.
   * The connection goes back to the pool with the cursor closed (or is
   * dropped when that fails); each FETCH has the command time limit.
   */
  async *listUsers(query: ListQuery = {}): AsyncGenerator<UserRecord> {
    const what = 'cannot list users';
    const { sql, params } = listUsersSql(query);
    const { client: c } = await this.hosts.acquire(Date.now() + COMMAND_TIMEOUT_MS, what);
    let declared = false;
    let failed: unknown;
    try {
      await this.q(c, 'BEGIN');
      await this.q(c, `DECLARE qt_list NO SCROLL CURSOR WITH HOLD FOR ${sql}`, params.map(String));
      declared = true;
      await this.q(c, 'COMMIT');
      for (;;) {
        const page: UserRecord[] = [];
        await this.hosts.eachRow(c, `FETCH ${LIST_PAGE} FROM qt_list`, COMMAND_TIMEOUT_MS, (r) => page.push(toRecord(r)));
        yield* page;
        if (page.length < LIST_PAGE) break;
      }
    } catch (err) {
      failed = err;
      throw this.fail(what, err);
    } finally {
      // A failure (or a query cut by its time limit): the connection may be
      // mid-transaction or stuck; it is dropped, never reused. Otherwise
      // (the end, or the caller stopped at a row) no query is running.
      let clean = failed === undefined;
      if (clean && declared) {
        try {
          await this.q(c, 'CLOSE qt_list');
        } catch {
          clean = false;
        }
      }
      if (clean) c.release();
      else destroy(c, failed instanceof Error ? failed : new Error('the listing stopped'));
    }
  }

  // Group commit (see the top of the file).
  private pending: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;
  /** The batches in flight, for /healthz: how long has the oldest update waited? */
  private readonly flying = new Set<Pending[]>();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private closing = false;
  private idle: Array<() => void> = [];
  /** The last batch's failure, until one succeeds (or, for a lost connection, a probe does). */
  private writeError: (QtError & { retryable?: boolean }) | undefined;

  recordSeen(u: SeenUpdate): Promise<Seen | undefined> {
    return new Promise((resolve, reject) => {
      if (this.closing) return reject(new QtError(ErrorCodes.STORE, `cannot record the update (${this.description}): the store is closed`));
      const now = Date.now();
      this.pending.push({ update: u, queuedAt: now, deadline: now + this.writeTimeoutMs, attempts: 0, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    this.expire();
    while (this.pending.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.pending;
      this.pending = [];
      void this.send(batch);
    }
  }

  /** Updates past their limit fail now (503), whatever is still in flight. */
  private expire(reason?: string): void {
    const now = Date.now();
    const late = this.pending.filter((p) => p.deadline <= now);
    if (late.length === 0) return;
    this.pending = this.pending.filter((p) => p.deadline > now);
    const err = new QtError(ErrorCodes.STORE, `cannot record the update (${this.description}): not committed within ${this.writeTimeoutMs} ms${reason ? `: ${reason}` : ''}`, {
      cause: this.writeError,
      hint: this.writeError?.hint,
    });
    for (const p of late) p.reject(err);
  }

  private async send(batch: Pending[]): Promise<void> {
    this.inFlight++;
    this.flying.add(batch);
    const groups = groupByEmail(batch.map((p) => p.update));
    const deadline = Math.max(...batch.map((p) => p.deadline));
    // Each update fails at its own limit; the batch's query may run to the last one's.
    const early = new Set<Pending>();
    const timers = [...new Set(batch.map((p) => p.deadline))].filter((d) => d < deadline).map((d) =>
      setTimeout(() => {
        const err = new QtError(ErrorCodes.STORE, `cannot record the update (${this.description}): not committed within ${this.writeTimeoutMs} ms`);
        for (const p of batch) if (p.deadline === d && !early.has(p)) (early.add(p), p.reject(err));
      }, d - Date.now()),
    );
    try {
      const rows = await this.write(seenBatchQuery(groups), deadline);
      this.writeError = undefined;
      this.retryMs = 0;
      this.answer(batch.filter((p) => !early.has(p)), groups, rows);
    } catch (err) {
      const e = err as QtError & { retryable?: boolean };
      this.writeError = e;
      const live = batch.filter((p) => !early.has(p));
      if (e.retryable && !this.closing) {
        // Back in the queue, ahead of newer updates; tried again shortly,
        // until each one's limit.
        this.pending = [...live, ...this.pending];
        this.retryMs = Math.min(500, Math.max(25, this.retryMs * 2));
        this.expire(e.message.replace(/^cannot record the update \([^)]*\): /, ''));
        if (!this.retryTimer && this.pending.length > 0) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.flush();
          }, Math.min(this.retryMs, Math.max(1, Math.min(...this.pending.map((p) => p.deadline)) - Date.now())));
        }
      } else {
        for (const p of live) p.reject(e);
      }
    } finally {
      for (const t of timers) clearTimeout(t);
      this.flying.delete(batch);
      this.inFlight--;
      if (this.pending.length > 0) this.schedule();
      if (this.inFlight === 0 && this.pending.length === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * The connection the updates go over: held from the pool while the store
   * is open, with up to MAX_IN_FLIGHT batches on it at once (pipelined: one
   * round trip's wait, one server process, and the batches never wait for
   * each other's row locks). With a connection per batch, each batch also
   * paid for taking one from the pool and for a round trip that nothing
   * else overlapped (bench/serve.ts, issue #11). One that fails
   * at the connection level, or misses its time, is dropped (every batch on
   * it fails and is retried within its limit) and the next batch connects
   * again, to whichever host answers.
   */
  private writer: Writer | undefined;
  private connecting: Promise<Writer> | undefined;

  private writerFor(deadline: number): Promise<Writer> {
    if (this.writer && !this.writer.dropped) return Promise.resolve(this.writer);
    this.connecting ??= this.hosts.acquire(deadline, 'cannot record the update').then(
      ({ client, host }) => {
        this.connecting = undefined;
        const w = { client, host, dropped: false };
        client.once('end', () => this.dropWriter(w, new Error('the connection ended')));
        this.writer = w;
        return w;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  /** Also when the connection ended by itself: the pool counts it until it is released. */
  private dropWriter(w: Writer, why: Error): void {
    if (this.writer === w) this.writer = undefined;
    if (w.dropped) return;
    w.dropped = true;
    destroy(w.client, why);
  }

  /**
   * One batch's statement on the writer connection, within the batch's
   * limit; its rows as arrays (email, seen, enrolled, ip, port). A callback and one
   * timer rather than promises raced: this runs for every batch.
   */
  private write(query: pg.QueryArrayConfig, deadline: number): Promise<unknown[][]> {
    const failed = (w: Writer, err: unknown): QtError => {
      const p = describeProblem(err, this.cfg);
      if (p.retryable || /no answer within/.test(String((err as Error)?.message))) this.dropWriter(w, err as Error);
      if (errorCode(err) === '25006') {
        this.hosts.passOver(w.host);
        this.dropWriter(w, err as Error);
      }
      return this.fail('cannot record the update', err);
    };
    const run = (w: Writer) =>
      new Promise<unknown[][]>((resolve, reject) => {
        const ms = Math.max(1, deadline - Date.now());
        const timer = setTimeout(() => reject(failed(w, timeout(ms))), ms);
        w.client.query(query, (err: Error | undefined, res: pg.QueryArrayResult) => {
          clearTimeout(timer);
          if (err) reject(failed(w, err));
          else resolve(res.rows);
        });
      });
    const w = this.writer;
    return w && !w.dropped ? run(w) : this.writerFor(deadline).then(run);
  }

  /** Each update's answer, in order of arrival, as SQLite's statements one by one would give it. */
  private answer(batch: Pending[], groups: ReturnType<typeof groupByEmail>, rows: unknown[][]): void {
    const found = new Map<string, unknown[]>();
    for (const r of rows) found.set(r[0] as string, r);
    // Per user, what is stored after the updates answered so far.
    const running = new Map<string, Seen | null>();
    const again: Pending[] = [];
    for (const p of batch) {
      const u = p.update;
      const r = found.get(u.email);
      if (!r) {
        // Not a user; or enrolled by someone else between our look and our insert.
        if (groups.get(u.email)?.eCreated != null) {
          if (++p.attempts < MAX_ATTEMPTS) again.push(p);
          else p.reject(new QtError(ErrorCodes.STORE, `cannot record the update (${this.description}): ${u.email} kept changing under it`));
        } else p.resolve(undefined);
        continue;
      }
      let prev: Seen | null | undefined = running.get(u.email);
      if (prev === undefined) {
        if (r[2] === true) {
          if (!u.enroll) {
            p.resolve(undefined); // before the update that enrolled it
            continue;
          }
          prev = null;
        } else prev = r[1] === null || r[1] === undefined ? null : { lastSeenNs: BigInt(r[1] as string), ip: r[3] as string, port: Number(r[4]) };
      }
      const now: Seen = prev === null || u.nowNs >= prev.lastSeenNs ? { lastSeenNs: u.nowNs, ip: u.ip, port: u.port } : prev;
      running.set(u.email, now);
      p.resolve(now);
    }
    if (again.length > 0) {
      this.pending = [...again, ...this.pending];
      this.schedule();
    }
  }

  /**
   * For /healthz, bounded: degraded while updates wait for the database,
   * after a batch that failed, or when a quick probe (a round trip that also
   * asks whether the host takes writes) fails or misses its time.
   */
  async check(): Promise<void> {
    // Messages without the host: /healthz shows them to anyone.
    const fail = (what: string, cause?: unknown): never => {
      throw new QtError(ErrorCodes.STORE, what, { cause });
    };
    let oldest = this.pending[0]?.queuedAt;
    for (const b of this.flying) for (const p of b) oldest = Math.min(oldest ?? p.queuedAt, p.queuedAt);
    if (oldest !== undefined && Date.now() - oldest >= DEGRADED_AFTER_MS) fail(`updates have waited ${Date.now() - oldest} ms for the database`, this.writeError);
    if (this.writeError && !this.writeError.retryable) fail('the last update could not be committed', this.writeError);
    let row: Row | undefined;
    try {
      row = await this.withClient('the database does not answer', Math.min(CHECK_TIMEOUT_MS, this.writeTimeoutMs), async (c) => {
        return (await this.hosts.query(c, { name: 'qt_check', text: PG.check }, Math.max(1, Math.min(CHECK_TIMEOUT_MS, this.writeTimeoutMs)))).rows[0] as Row | undefined;
      });
    } catch (err) {
      fail('the database does not answer', err);
    }
    if (row?.standby === true) fail('the database is a standby (read-only)');
    if (row?.read_only === 'on') fail('the database is read-only');
    if (this.writeError?.retryable) this.writeError = undefined; // it answers again
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // What is queued gets its chance, within its own limit.
    if (this.pending.length > 0 || this.inFlight > 0) {
      this.flush();
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        if (this.inFlight === 0 && this.pending.length === 0) resolve();
      });
    }
    const w = this.writer;
    if (w && !w.dropped) {
      this.writer = undefined;
      w.dropped = true;
      w.client.release();
    }
    await this.hosts.end();
  }
}
