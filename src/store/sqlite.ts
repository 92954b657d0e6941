// The embedded store: node:sqlite, WAL journal (readers never block the
// writer; `qtstatus users` works while the server runs), a busy timeout so
// several processes (`serve --workers`) can share one file.
// synchronous=NORMAL in WAL mode: a commit survives a crash of the process;
// the last commits before a power loss may not (sqlite.org/pragma.html#pragma_synchronous).

import { existsSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ErrorCodes, QtError } from '../errors.ts';
import { MIGRATIONS, SCHEMA_VERSION, SQL } from './schema.ts';
import type { SeenUpdate, Store, UserRecord } from './store.ts';

type Row = Record<string, unknown>;

function toRecord(row: Row): UserRecord {
  return {
    email: row.email as string,
    createdNs: BigInt(row.created_ns as bigint),
    lastSeenNs: row.last_seen_ns === null ? null : BigInt(row.last_seen_ns as bigint),
    ip: row.ip as string | null,
    port: row.port === null ? null : Number(row.port),
  };
}

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

  private constructor(db: DatabaseSync, file: string) {
    this.db = db;
    this.file = file;
    this.description = `sqlite:${file}`;
  }

  /** Opens (creating if needed) and migrates the database at `file`. */
  static open(file: string, opts: { mustExist?: boolean } = {}): SqliteStore {
    if (opts.mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new QtError(ErrorCodes.STORE, `there is no database at ${file}`, {
        hint: 'add users first with `qtstatus users add EMAIL`, or pass the --db the server uses',
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
    const store = new SqliteStore(db, file);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON');
      store.migrate();
    } catch (err) {
      db.close();
      throw err instanceof QtError ? err : storeError('cannot prepare the database', file, err);
    }
    return store;
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      s.setReadBigInts(true);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private migrate(): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      this.db.exec(SQL.createVersionTable);
      const row = this.db.prepare(SQL.readVersion).get() as Row | undefined;
      const version = row ? Number(row.version) : 0;
      if (version > SCHEMA_VERSION) {
        throw new QtError(ErrorCodes.STORE, `the database ${this.file} has schema version ${version}, newer than this qtstatus knows (${SCHEMA_VERSION})`, {
          hint: 'upgrade qtstatus',
        });
      }
      for (let v = version; v < SCHEMA_VERSION; v++) {
        for (const sql of MIGRATIONS[v] ?? []) this.db.exec(sql);
      }
      if (row === undefined) this.db.prepare(SQL.insertVersion).run(SCHEMA_VERSION);
      else if (version !== SCHEMA_VERSION) this.db.prepare(SQL.updateVersion).run(SCHEMA_VERSION);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
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

  listUsers(): Promise<UserRecord[]> {
    return this.run('cannot list users', () => (this.stmt(SQL.listUsers).all() as Row[]).map(toRecord));
  }

  /**
   * Group commit: the updates that arrive in one event-loop turn are written
   * in one transaction at the end of it, so a burst costs one WAL commit
   * instead of one each (bench/serve.ts). Each promise still resolves only
   * after its update is committed, and fails alone if its statement fails.
   */
  recordSeen(u: SeenUpdate): Promise<{ lastSeenNs: bigint } | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ update: u, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.commitPending());
    });
  }

  private pending: Array<{
    update: SeenUpdate;
    resolve: (v: { lastSeenNs: bigint } | undefined) => void;
    reject: (err: unknown) => void;
  }> = [];

  private commitPending(): void {
    const batch = this.pending;
    this.pending = [];
    const results: Array<{ ok: true; value: { lastSeenNs: bigint } | undefined } | { ok: false; err: unknown }> = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const { update: u } of batch) {
        try {
          results.push({ ok: true, value: this.seen(u) });
        } catch (err) {
          results.push({ ok: false, err: storeError('cannot record the update', this.file, err) });
        }
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
      const failure = storeError('cannot record the update', this.file, err);
      for (const p of batch) p.reject(failure);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r?.ok) p.resolve(r.value);
      else p.reject(r?.err);
    });
  }

  /** One update, inside the batch's transaction (the statements: ./schema.ts). */
  private seen(u: SeenUpdate): { lastSeenNs: bigint } | undefined {
    if (this.stmt(SQL.seenIfNewer).run(u.nowNs, u.ip, u.port, u.email, u.nowNs).changes > 0) return { lastSeenNs: u.nowNs };
    const row = this.stmt(SQL.seenNotNewer).get(u.ip, u.port, u.email) as Row | undefined;
    if (row) return { lastSeenNs: BigInt(row.last_seen_ns as bigint) };
    if (u.enroll && this.stmt(SQL.enroll).run(u.email, u.nowNs, u.nowNs, u.ip, u.port).changes > 0) return { lastSeenNs: u.nowNs };
    return undefined;
  }

  check(): Promise<void> {
    return this.run('the database does not answer', () => {
      this.stmt(SQL.check).get();
    });
  }

  close(): Promise<void> {
    if (this.pending.length > 0 && this.db.isOpen) this.commitPending();
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }
}
