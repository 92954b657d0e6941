// Picks the store engine from --db: a file path (SQLite, the default) or a
// postgres:// URL.

import { ErrorCodes, QtError } from '../errors.ts';
import { SqliteStore, type SqliteOpenOptions } from './sqlite.ts';
import type { Store } from './store.ts';

export const DEFAULT_DB = 'qtstatus.db';

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** `mustExist`: for commands that only read or remove; `lockWaitMs` and `verify`: for the server (./sqlite.ts). */
export async function openStore(spec: string, opts: SqliteOpenOptions = {}): Promise<Store> {
  if (isPostgresUrl(spec)) {
    throw new QtError(ErrorCodes.USAGE, 'the PostgreSQL store is not in this version', {
      hint: 'use a SQLite file for --db',
    });
  }
  return SqliteStore.open(spec, opts);
}
