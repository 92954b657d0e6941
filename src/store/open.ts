// Picks the store engine from --db: a file path (SQLite, the default) or a
// postgres:// URL (PostgreSQL). Both are opened the same way and behave the
// same (./store.ts; test/store/contract.ts).

import { SqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export const DEFAULT_DB = 'qtstatus.db';

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export interface OpenStoreOptions {
  /** For commands that only read or remove: no new database (SQLite: the file must exist; PostgreSQL: the tables must). */
  mustExist?: boolean;
  /**
   * The server's way: an update not committed within this many ms is
   * rejected (503), and the event loop never waits on the database.
   */
  writeTimeoutMs?: number;
  /** A server at start: refuse a database that is corrupt (SQLite's quick_check) or not as qtstatus made it. */
  verify?: boolean;
  /**
   * The environment libpq would read for a postgres:// URL (PGPASSWORD,
   * PGPASSFILE, PGUSER, PGSSLMODE …); the CLI passes process.env. None: an
   * empty environment (lower layers never read process.env).
   */
  env?: Record<string, string | undefined>;
}

export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const writeTimeoutMs = opts.writeTimeoutMs;
  if (isPostgresUrl(spec)) {
    // Loaded only for a postgres:// URL: SQLite users never load pg (~25 ms to import).
    const { PostgresStore } = await import('./postgres.ts');
    return PostgresStore.open(spec, { mustExist: opts.mustExist, writeTimeoutMs, verify: opts.verify, env: opts.env ?? {} });
  }
  return SqliteStore.open(spec, { mustExist: opts.mustExist, writeTimeoutMs, verify: opts.verify });
}
