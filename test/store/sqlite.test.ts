import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QtError } from '../../src/errors.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('sqlite', async () => SqliteStore.open(join(dir, `t${n++}.db`)));

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
