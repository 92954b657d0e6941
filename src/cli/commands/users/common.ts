// What the `users` subcommands share: the --db option, a store opened and
// closed around the work, and how a user is shown (text and JSON).

import { DEFAULT_DB, openStore } from '../../../store/open.ts';
import type { Store, UserRecord } from '../../../store/store.ts';
import { nsToIso } from '../../../protocol/time.ts';
import { escapeText } from '../../escape.ts';

export interface DbOption {
  db: string;
  json?: boolean;
}

export const dbOption = ['--db <file|url>', 'SQLite file or postgres:// URL', DEFAULT_DB] as const;

export async function withStore<T>(db: string, fn: (s: Store) => Promise<T>, opts: { mustExist?: boolean } = {}): Promise<T> {
  const store = await openStore(db, { ...opts, env: process.env });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/** "3s", "5m", "2h", "4d" ago. */
export function age(ns: bigint, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round((nowMs - Number(ns / 1_000_000n)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

export function userJson(u: UserRecord, nowMs = Date.now()) {
  return {
    email: u.email,
    createdAt: nsToIso(u.createdNs),
    lastSeenNs: u.lastSeenNs?.toString() ?? null,
    lastSeen: u.lastSeenNs === null ? null : nsToIso(u.lastSeenNs),
    ageSeconds: u.lastSeenNs === null ? null : Math.max(0, Math.round((nowMs - Number(u.lastSeenNs / 1_000_000n)) / 1000)),
    ip: u.ip,
    port: u.port,
  };
}

export function userRow(u: UserRecord, nowMs: number): string[] {
  const email = escapeText(u.email);
  if (u.lastSeenNs === null) return [email, 'never', '', '', ''];
  return [email, nsToIso(u.lastSeenNs).replace(/\.(\d{3})\d{6}Z$/, '.$1Z'), age(u.lastSeenNs, nowMs), escapeText(u.ip ?? ''), String(u.port ?? '')];
}

export const HEADER = ['EMAIL', 'LAST SEEN (UTC)', 'AGE', 'IP', 'PORT'];

export const tableLine = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';
