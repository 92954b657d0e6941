import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QtError } from '../../src/errors.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('sqlite', async () => join(dir, `t${n++}.db`));

describe('sqlite store files', () => {
  it('keeps data across reopening, at the current schema version', async () => {
    const file = join(dir, 'persist.db');
    const a = SqliteStore.open(file);
    await a.addUsers(['p@example.com'], 1n);
    await a.recordSeen({ email: 'p@example.com', nowNs: 99n, ip: '::1', port: 3, enroll: false });
    await a.close();
    const b = SqliteStore.open(file);
    expect(await b.getUser('p@example.com')).toMatchObject({ lastSeenNs: 99n, port: 3 });
    await b.close();
  });

  it('refuses a corrupt file with a clear error, and leaves it as it was', () => {
    const file = join(dir, 'corrupt.db');
    writeFileSync(file, 'this is not a database'.repeat(100));
    expect(() => SqliteStore.open(file)).toThrow(QtError);
    try {
      SqliteStore.open(file);
    } catch (err) {
      expect((err as QtError).message).toContain(file);
      expect((err as QtError).hint).toMatch(/not a qtstatus database or is corrupt/);
    }
  });

  it('refuses a place it cannot write, even as root', () => {
    expect(() => SqliteStore.open('/proc/qtstatus-test/status.db')).toThrow(/cannot open the database \(\/proc\/qtstatus-test\/status\.db\)/);
  });

  it('refuses a path whose directory is a file', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expect(() => SqliteStore.open(join(file, 'db.sqlite'))).toThrow(/cannot open the database/);
  });

  it('refuses a database from a newer qtstatus', async () => {
    const file = join(dir, 'newer.db');
    const s = SqliteStore.open(file);
    await s.close();
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(file);
    db.exec('UPDATE qtstatus_schema SET version = 99');
    db.close();
    expect(() => SqliteStore.open(file)).toThrow(/schema version 99, newer than this qtstatus knows/);
  });
});

// Issue #10, defect 6: another process's write lock must not freeze the
// server's event loop; updates wait a bounded time, and the store says it is
// degraded meanwhile.
describe('sqlite store under another process\'s write lock', () => {
  const holdLock = (file: string) => {
    const other = new DatabaseSync(file);
    other.exec('BEGIN IMMEDIATE');
    return () => {
      other.exec('COMMIT');
      other.close();
    };
  };
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps the event loop free while it waits, then commits once the lock is gone', async () => {
    const file = join(dir, 'locked.db');
    const s = SqliteStore.open(file, { lockWaitMs: 10_000 });
    await s.addUsers(['u@example.com'], 1n);
    const release = holdLock(file);
    let settled = false;
    const update = s.recordSeen({ email: 'u@example.com', nowNs: 5n, ip: '::1', port: 1, enroll: false }).finally(() => (settled = true));
    await tick(300); // a blocking store would sit in SQLite's busy handler past this timer
    expect(settled).toBe(false);
    await expect(s.check()).rejects.toThrow(/another process has held the database's write lock for \d+ ms/);
    release();
    expect(await update).toMatchObject({ lastSeenNs: 5n });
    await expect(s.check()).resolves.toBeUndefined();
    await s.close();
  });

  it('fails an update that waited its whole bound, and only that one', async () => {
    const file = join(dir, 'locked-long.db');
    const s = SqliteStore.open(file, { lockWaitMs: 200 });
    await s.addUsers(['u@example.com'], 1n);
    const release = holdLock(file);
    await expect(s.recordSeen({ email: 'u@example.com', nowNs: 5n, ip: '::1', port: 1, enroll: false })).rejects.toThrow(/locked for 200 ms/);
    const later = s.recordSeen({ email: 'u@example.com', nowNs: 6n, ip: '::1', port: 2, enroll: false });
    await tick(50);
    release();
    expect(await later).toMatchObject({ lastSeenNs: 6n });
    expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 6n, port: 2 });
    await s.close();
  });
});

// Issue #10, defect 8: a database malformed past its header is refused at start.
describe('sqlite store integrity', () => {
  it('refuses, with verify, a database whose pages are damaged past the header', async () => {
    const file = join(dir, 'damaged.db');
    const s = SqliteStore.open(file);
    await s.addUsers(Array.from({ length: 2000 }, (_, i) => `user${i}@example.com`), 1n);
    await s.close();
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(8 * 4096);
    bytes.fill(0xa5, 10 * 4096, 10 * 4096 + 16); // a b-tree page's header, far from the file's
    writeFileSync(file, bytes);
    rmSync(`${file}-wal`, { force: true });
    expect(() => SqliteStore.open(file, { verify: true })).toThrow(/the database .*damaged\.db is corrupt: database disk image is malformed/);
    const unchecked = SqliteStore.open(file); // what a server without the check would have started on
    await unchecked.close();
  });
});

// Issue #11: checkpoints (two fsyncs each) off the server's event loop.
describe('sqlite store checkpoints', () => {
  /** last_seen_ns of `email` in the database file alone, without its WAL: what has been checkpointed. */
  const inFile = (file: string, email: string) => {
    const copy = `${file}.copy`;
    copyFileSync(file, copy);
    const db = new DatabaseSync(copy, { readOnly: true });
    try {
      return (db.prepare('SELECT last_seen_ns FROM users WHERE email = ?').get(email) as { last_seen_ns: number | null } | undefined)?.last_seen_ns;
    } finally {
      db.close();
      rmSync(copy, { force: true });
    }
  };

  it('the server\'s store checkpoints in the background: a commit reaches the file without waiting for 1000 pages', async () => {
    const file = join(dir, 'checkpoint.db');
    const setup = SqliteStore.open(file);
    await setup.addUsers(['c@example.com'], 1n);
    await setup.close(); // all in the file
    const s = SqliteStore.open(file, { writeTimeoutMs: 2000 });
    expect(await s.recordSeen({ email: 'c@example.com', nowNs: 42n, ip: '::1', port: 1, enroll: false })).toMatchObject({ lastSeenNs: 42n });
    let value: number | null | undefined;
    for (let i = 0; i < 40 && value !== 42; i++) {
      await new Promise((r) => setTimeout(r, 50));
      value = inFile(file, 'c@example.com');
    }
    expect(value).toBe(42); // one commit of a page or two: SQLite alone would have left it in the WAL
    const t = Date.now();
    await s.close();
    expect(Date.now() - t).toBeLessThan(1000);
    expect(existsSync(`${file}-wal`)).toBe(false); // the last connection closed: WAL checkpointed and removed
  });

  it('a command\'s store leaves checkpoints to SQLite, as before', async () => {
    const file = join(dir, 'checkpoint-cmd.db');
    const setup = SqliteStore.open(file);
    await setup.addUsers(['c@example.com'], 1n);
    await setup.close();
    const s = SqliteStore.open(file);
    await s.recordSeen({ email: 'c@example.com', nowNs: 42n, ip: '::1', port: 1, enroll: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(inFile(file, 'c@example.com')).toBeNull(); // the update is still only in the WAL
    await s.close();
  });
});
