// The embedded store: node:sqlite, WAL journal (readers never block the
// writer; `qtstatus users` works while the server runs), several processes
// (`serve --workers`, `users`) on one file.
// synchronous=NORMAL in WAL mode: a commit survives a crash of the process;
// the last commits before a power loss may not (sqlite.org/pragma.html#pragma_synchronous).
//
// node:sqlite is synchronous. A command may wait in SQLite's busy handler for
// another process's write lock; the server must not, or every request and
// /healthz freezes behind it (issue #10, defect 6). So the server's store
// never waits inside SQLite (busy timeout 0): a batch that finds the lock
// taken is retried from a timer, the event loop free meanwhile, and updates
// that waited `writeTimeoutMs` fail (503) while the rest wait on.
//
// Nor does it wait for checkpoints: SQLite runs one inside the COMMIT that
// fills the WAL past 1000 pages, two fsyncs (~3 ms here) during which no
// request is answered, and with many users updated per commit that is many
// times a second (PATCH p99 with a million users 1.5 times that with a
// hundred, bench/users.ts). The server's store checkpoints on a worker
// thread with its own connection instead (Checkpointer, below).

import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, QtError } from '../errors.ts';
import { listUsersSql, migrationPlan, NewerSchemaError, runSync, SQL, sqliteSql, toRecord, type Row } from './schema.ts';
import type { ListQuery, Seen, SeenUpdate, Store, UserRecord } from './store.ts';

export interface SqliteOpenOptions {
  /** For commands that only read or remove: a missing file is an error, not a new database. */
  mustExist?: boolean;
  /** The server's way: never block the event loop on a lock; give up on an update after this many ms. */
  writeTimeoutMs?: number;
  /** The former name of writeTimeoutMs (kept until the CLI passes writeTimeoutMs). */
  lockWaitMs?: number;
  /** Refuse a database that fails SQLite's quick_check (a server at start). */
  verify?: boolean;
}

/** Below this much free space the store reports itself degraded (SQLITE_FULL is near). */
const LOW_DISK_BYTES = 4 * 1024 * 1024;
/** A write lock held this long by someone else makes /healthz say degraded. */
const DEGRADED_AFTER_MS = 250;
/** Server mode: the checkpointer looks this often whether there was a commit to checkpoint. */
const CHECKPOINT_EVERY_MS = 100;
/**
 * Server mode: SQLite's own checkpoint in the commit path only past this
 * many WAL pages (~40 MB), as a bound for when the background checkpoints
 * cannot finish (a writer that never pauses; the worker gone).
 */
const FALLBACK_AUTOCHECKPOINT = 10_000;
/** addUsers with this many at once raises the page cache for the connection to BULK_CACHE_KIB. */
const BULK_ADD = 1000;
const BULK_CACHE_KIB = 64 * 1024;
/** listUsers reads this many rows from SQLite at a time, then hands them out. */
const LIST_CHUNK = 256;

const isBusy = (err: unknown) => {
  const code = (err as { errcode?: number }).errcode;
  return (code !== undefined && (code & 0xff) === 5) || /database is locked|SQLITE_BUSY/.test(String((err as Error)?.message));
};


function storeError(what: string, file: string, err: unknown): QtError {
  const text = String((err as Error)?.message ?? err);
  const hint = /not a database|malformed|file is not/i.test(text)
    ? `${file} is not a qtstatus database or is corrupt; move it aside or pass another --db`
    : /readonly|permission|unable to open|access/i.test(text)
      ? `check that ${file} and its directory exist and are writable, or pass another --db`
      : /locked|busy/i.test(text)
        ? 'another process holds the database; try again'
        : undefined;
  return new QtError(ErrorCodes.STORE, `${what} (${file})`, { cause: err, hint });
}

export class SqliteStore implements Store {
  readonly description: string;
  private readonly db: DatabaseSync;
  private readonly file: string;
  private readonly stmts: Map<string, StatementSync> = new Map();
  private readonly lockWaitMs: number | undefined;
  private bulk = false;
  private checkpointer: Checkpointer | undefined;

  private constructor(db: DatabaseSync, file: string, lockWaitMs: number | undefined) {
    this.db = db;
    this.file = file;
    this.lockWaitMs = lockWaitMs;
    this.description = `sqlite:${file}`;
  }

  /** Opens (creating if needed) and migrates the database at `file`. */
  static open(file: string, opts: SqliteOpenOptions = {}): SqliteStore {
    if (opts.mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new QtError(ErrorCodes.STORE, `there is no database at ${file}`, {
        hint: 'add users first (that creates it), or give the database the server uses',
        reason: 'db_no_schema',
        setting: 'db',
      });
    }
    let db: DatabaseSync;
    try {
      // No `mkdir -p` here: a missing directory is more often a typo in
      // --db than a wish (and Node's recursive mkdir spins forever on /proc).
      db = new DatabaseSync(file, { timeout: 5000 });
    } catch (err) {
      throw storeError('cannot open the database', file, err);
    }
    const lockWaitMs = opts.writeTimeoutMs ?? opts.lockWaitMs;
    const store = new SqliteStore(db, file, lockWaitMs);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON');
      if (opts.verify) store.verify();
      store.migrate();
      // Opening and migrating may wait like a command; serving may not.
      if (lockWaitMs !== undefined) db.exec('PRAGMA busy_timeout = 0');
      if (lockWaitMs !== undefined && file !== ':memory:') store.checkpointer = new Checkpointer(db, file);
    } catch (err) {
      db.close();
      throw err instanceof QtError ? err : storeError('cannot prepare the database', file, err);
    }
    return store;
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sqliteSql(sql));
      s.setReadBigInts(true);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * A database malformed past its header opens fine and fails later, on
   * some page: check every page's structure once, at start (issue #10,
   * defect 8). quick_check skips index contents, so it takes seconds only
   * for millions of rows.
   */
  private verify(): void {
    let problems: string[];
    try {
      const rows = this.db.prepare('PRAGMA quick_check(5)').all() as Row[];
      problems = rows.map((r) => String(Object.values(r)[0])).filter((t) => t !== 'ok');
    } catch (err) {
      problems = [String((err as Error).message)]; // SQLITE_CORRUPT on a page the check could not even walk
    }
    if (problems.length > 0) {
      throw new QtError(ErrorCodes.STORE, `the database ${this.file} is corrupt: ${problems.join('; ')}`, {
        hint: `restore ${this.file} from a backup, or move it aside and add the users again`,
      });
    }
  }

  /** The migrations (./schema.ts), in one write transaction: another process migrating waits. */
  private migrate(): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      runSync(migrationPlan(), (s) => this.db.prepare(sqliteSql(s.sql)).all(...((s.params ?? []) as number[])) as Row[]);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      if (err instanceof NewerSchemaError) {
        throw new QtError(ErrorCodes.STORE, `the database ${this.file} has ${err.message}`, { hint: 'upgrade qtstatus' });
      }
      throw err;
    }
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storeError(what, this.file, err));
    }
  }

  addUsers(emails: string[], nowNs: bigint): Promise<string[]> {
    return this.run('cannot add users', () => {
      if (emails.length >= BULK_ADD && !this.bulk) {
        // A bulk load (`users add --from`) in batches: keep the email
        // index's pages in memory from one batch to the next, not just 2 MiB
        // of them. In random order, a million took 13 s without, 9.6 s with.
        this.db.exec(`PRAGMA cache_size = -${BULK_CACHE_KIB}`);
        this.bulk = true;
      }
      const added: string[] = [];
      this.db.exec('BEGIN IMMEDIATE');
      try {
        for (const email of emails) {
          if (this.stmt(SQL.addUser).run(email, nowNs).changes > 0) added.push(email);
        }
        this.db.exec('COMMIT');
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
      return added;
    });
  }

  removeUser(email: string): Promise<boolean> {
    return this.run('cannot remove the user', () => this.stmt(SQL.removeUser).run(email).changes > 0);
  }

  getUser(email: string): Promise<UserRecord | undefined> {
    return this.run('cannot read the user', () => {
      const row = this.stmt(SQL.getUser).get(email) as Row | undefined;
      return row && toRecord(row);
    });
  }

  /**
   * Streams with StatementSync.iterate(): LIST_CHUNK rows at a time, never
   * all of them. The statement is its own (not the cached one), so two
   * listings, or a listing and other calls, never share a cursor; it holds
   * one read snapshot (WAL: writers go on) until the iteration ends, and
   * stopping early resets it.
   */
  async *listUsers(query: ListQuery = {}): AsyncGenerator<UserRecord> {
    const { sql, params } = listUsersSql(query);
    let rows: Iterator<unknown>;
    try {
      const stmt = this.db.prepare(sqliteSql(sql));
      stmt.setReadBigInts(true);
      // Rows as arrays: as objects, node:sqlite's rows made the heap grow
      // to ~100 MB over a million of them (arrays: flat, bench/users.ts).
      stmt.setReturnArrays(true);
      rows = stmt.iterate(...params);
    } catch (err) {
      throw storeError('cannot list users', this.file, err);
    }
    try {
      for (;;) {
        const chunk: UserRecord[] = [];
        try {
          for (let r = rows.next(); ; r = rows.next()) {
            if (r.done) break;
            const [email, createdNs, lastSeenNs, ip, port] = r.value as [string, bigint, bigint | null, string | null, bigint | null];
            chunk.push({ email, createdNs, lastSeenNs, ip, port: port === null ? null : Number(port) });
            if (chunk.length === LIST_CHUNK) break;
          }
        } catch (err) {
          throw storeError('cannot list users', this.file, err);
        }
        yield* chunk;
        if (chunk.length < LIST_CHUNK) return;
        // A turn of the event loop between chunks: timers, signals and
        // V8's own tasks (a caller writing to a file never waits, and
        // without them the heap grew to 150 MB over a million rows).
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      if (this.db.isOpen) rows.return?.();
    }
  }

  /**
   * Group commit: the updates that arrive in one event-loop turn are written
   * in one transaction at the end of it, so a burst costs one WAL commit
   * instead of one each (bench/serve.ts). Each promise still resolves only
   * after its update is committed, and fails alone if its statement fails.
   */
  recordSeen(u: SeenUpdate): Promise<Seen | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ update: u, queuedAt: Date.now(), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commitPending());
      }
    });
  }

  private pending: Array<{
    update: SeenUpdate;
    queuedAt: number;
    resolve: (v: Seen | undefined) => void;
    reject: (err: unknown) => void;
  }> = [];
  /** A commit is due (next turn, or a lock retry). */
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  /** Since when another process has held the write lock against us. */
  private lockedSince: number | undefined;
  /** The last commit's failure, until one succeeds (disk full, I/O error…). */
  private writeError: QtError | undefined;

  private commitPending(): void {
    this.scheduled = false;
    this.retryTimer = undefined;
    if (this.pending.length === 0) return;
    if (!this.db.isOpen) return this.failPending(storeError('cannot record the update', this.file, new Error('the database is closed')));
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (this.lockWaitMs !== undefined && isBusy(err)) return this.waitForLock(err);
      return this.failPending(storeError('cannot record the update', this.file, err));
    }
    this.lockedSince = undefined;
    this.retryMs = 0;
    const batch = this.pending;
    this.pending = [];
    const results: Array<{ ok: true; value: Seen | undefined } | { ok: false; err: unknown }> = [];
    try {
      for (const { update: u } of batch) {
        try {
          results.push({ ok: true, value: this.seen(u) });
        } catch (err) {
          results.push({ ok: false, err: storeError('cannot record the update', this.file, err) });
        }
      }
      this.db.exec('COMMIT');
      this.writeError = undefined;
      this.checkpointer?.committed();
    } catch (err) {
      if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
      this.writeError = storeError('cannot record the update', this.file, err);
      for (const p of batch) p.reject(this.writeError);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r?.ok) p.resolve(r.value);
      else p.reject(r?.err);
    });
  }

  private failPending(err: QtError): void {
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) p.reject(err);
  }

  /** Another process holds the write lock: updates that waited long enough fail, the rest retry soon. */
  private waitForLock(err: unknown): void {
    const now = Date.now();
    this.lockedSince ??= now;
    const limit = this.lockWaitMs ?? 0;
    const late = this.pending.filter((p) => now - p.queuedAt >= limit);
    if (late.length > 0) {
      this.pending = this.pending.filter((p) => now - p.queuedAt < limit);
      const failure = storeError(`cannot record the update: the database was locked for ${limit} ms`, this.file, err);
      for (const p of late) p.reject(failure);
    }
    if (this.pending.length === 0) return;
    // 1, 2, 4 … 32 ms: a lock held for a moment (another worker's commit)
    // costs little latency, a long one little CPU.
    this.retryMs = Math.min(32, Math.max(1, this.retryMs * 2));
    this.scheduled = true;
    this.retryTimer = setTimeout(() => this.commitPending(), this.retryMs);
  }

  /** One update, inside the batch's transaction (the statements: ./schema.ts). */
  private seen(u: SeenUpdate): Seen | undefined {
    if (this.stmt(SQL.seenIfNewer).run(u.nowNs, u.ip, u.port, u.email).changes > 0) return { lastSeenNs: u.nowNs, ip: u.ip, port: u.port };
    const row = this.stmt(SQL.seenNotNewer).get(u.email) as Row | undefined;
    if (row) return { lastSeenNs: BigInt(row.last_seen_ns as bigint), ip: row.ip as string, port: Number(row.port) };
    if (u.enroll && this.stmt(SQL.enroll).run(u.email, u.nowNs, u.nowNs, u.ip, u.port).changes > 0) return { lastSeenNs: u.nowNs, ip: u.ip, port: u.port };
    return undefined;
  }

  /**
   * For /healthz, without waiting on any lock: degraded while another
   * process has held the write lock for a while, after a failed commit,
   * when the disk is (nearly) full, or when the database cannot be read.
   */
  async check(): Promise<void> {
    // Messages without the path: /healthz shows them to anyone.
    const fail = (what: string, cause?: unknown) => {
      throw new QtError(ErrorCodes.STORE, what, { cause });
    };
    if (this.lockedSince !== undefined && Date.now() - this.lockedSince >= DEGRADED_AFTER_MS) {
      fail(`another process has held the database's write lock for ${Date.now() - this.lockedSince} ms`);
    }
    if (this.writeError) fail('the last update could not be committed', this.writeError.cause);
    if (this.file !== ':memory:') {
      const fs = await statfs(dirname(this.file)).catch(() => undefined);
      if (fs && fs.bavail * fs.bsize < LOW_DISK_BYTES) fail(`the disk is full (${Math.floor((fs.bavail * fs.bsize) / 1024)} KiB free)`);
    }
    try {
      this.stmt(SQL.readVersion).get();
      // Could an update be written now? Taking the write lock and letting
      // go costs no I/O; with busy timeout 0 it never waits.
      if (this.lockWaitMs !== undefined && !this.db.isTransaction) {
        this.db.exec('BEGIN IMMEDIATE');
        this.db.exec('ROLLBACK');
      }
    } catch (err) {
      if (isBusy(err)) fail('another process holds the database\'s write lock', err);
      fail('the database does not answer', err);
    }
  }

  close(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (this.pending.length > 0 && this.db.isOpen) {
      // Last chance for what is queued: wait for a lock as a command would.
      if (this.lockWaitMs !== undefined) this.db.exec(`PRAGMA busy_timeout = ${Math.max(this.lockWaitMs, 1000)}`);
      this.commitPending();
      clearTimeout(this.retryTimer);
      this.failPending(storeError('cannot record the update', this.file, new Error('the store closed while the database was locked')));
    }
    const stopped = this.checkpointer?.stop() ?? Promise.resolve();
    // The worker's connection first: the last one to close checkpoints the WAL and removes it.
    return stopped.then(() => {
      if (this.db.isOpen) this.db.close();
    });
  }
}

// The worker: one connection of its own, a PASSIVE checkpoint whenever asked
// (copies what it can without waiting for any reader or writer, then the
// fsyncs), an answer when done. CommonJS source for `eval`, so the
// standalone executable needs no file for it.
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
let db;
try {
  db = new DatabaseSync(workerData.file, { timeout: 0 });
  db.exec('PRAGMA busy_timeout = 0');
} catch (err) {
  parentPort.postMessage({ failed: String(err && err.message) });
}
parentPort.on('message', (m) => {
  if (m === 'stop') {
    try { db?.close(); } catch {}
    parentPort.close();
    return;
  }
  try {
    db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get();
  } catch {
    // busy (another process's checkpoint) or failing: the next one, or the fallback, will do
  }
  parentPort.postMessage({ done: true });
});
`;

/**
 * Checkpoints of the server's WAL on a worker thread, so the event loop
 * never waits for them: the main connection's own are off but for a bound
 * (FALLBACK_AUTOCHECKPOINT), and after commits the worker is asked for one,
 * at most every CHECKPOINT_EVERY_MS and one at a time. If the worker cannot
 * run, SQLite's usual checkpoints come back.
 */
class Checkpointer {
  private readonly db: DatabaseSync;
  private readonly worker: Worker;
  private dirty = false;
  private busy = false;
  private stopped = false;
  private readonly exited: Promise<void>;
  private readonly timer: NodeJS.Timeout;

  constructor(db: DatabaseSync, file: string) {
    this.db = db;
    db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
    this.worker = new Worker(CHECKPOINT_WORKER, { eval: true, workerData: { file } }); // ~8 MB of RSS
    this.worker.unref();
    this.worker.on('message', (m: { done?: boolean; failed?: string }) => {
      if (m.failed !== undefined) this.fail();
      this.busy = false;
    });
    this.worker.on('error', () => this.fail());
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        this.fail(); // unless it was asked to stop
        resolve();
      }),
    );
    this.timer = setInterval(() => this.tick(), CHECKPOINT_EVERY_MS);
    this.timer.unref();
  }

  committed(): void {
    this.dirty = true;
  }

  private tick(): void {
    if (!this.dirty || this.busy || this.stopped) return;
    this.dirty = false;
    this.busy = true;
    this.worker.postMessage('checkpoint');
  }

  /** The worker is gone: SQLite's own checkpoints in the commit path again. */
  private fail(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.db.isOpen) this.db.exec('PRAGMA wal_autocheckpoint = 1000');
  }

  /** Ends the worker (its connection closed first); resolves when it has exited. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.worker.ref(); // closing waits for it
    this.worker.postMessage('stop');
    const force = setTimeout(() => void this.worker.terminate(), 2000);
    force.unref();
    return this.exited.finally(() => clearTimeout(force));
  }
}
