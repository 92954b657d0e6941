// Parsers for flag values. Each throws commander's InvalidArgumentError, which
// commander reports as a usage error (exit 2) naming the flag.

import { InvalidArgumentError, Option } from 'commander';
import { isIP } from 'node:net';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); longer ones fire at once. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * "1m30s"-style text in the given units, or a bare number of seconds, to
 * milliseconds: the one reader behind every duration flag.
 */
function readDuration(value: string, units: readonly string[], examples: string): number {
  const text = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Math.round(Number(text) * 1000);
  else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text || parts.some((p) => !units.includes(p[2] as string))) {
      throw new InvalidArgumentError(`"${value}" is not a duration (try ${examples})`);
    }
    ms = Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS_MS[p[2] as string] ?? 0), 0));
  }
  return ms;
}

/** "500ms", "10s", "2m", "1h", "1m30s" or a bare number of seconds → milliseconds (a timer's: at most ~24 days). */
export function parseDuration(value: string): number {
  const ms = readDuration(value, ['ms', 's', 'm', 'h'], '500ms, 10s, 2m or 1h');
  if (ms > MAX_DURATION_MS) throw new InvalidArgumentError(`"${value}" is too long (at most 596h, about 24 days)`);
  return ms;
}

/** An age to compare times with, not a timer: also days and weeks ("90s", "12h", "1d", "2w", "1d12h") → milliseconds. */
export function parseAge(value: string): number {
  const ms = readDuration(value, ['ms', 's', 'm', 'h', 'd', 'w'], '90s, 5m, 12h, 1d or 2w');
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`"${value}" is too long`);
  return ms;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port (0 to 65535)`);
  }
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`"${value}" is not a whole number of 1 or more`);
  }
  return n;
}

export function parseIp(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError(`"${value}" is not an IPv4 or IPv6 address`);
  return value;
}

/** "HOST:PORT", "[v6]:PORT" or ":PORT" (any host) → parts. */
export function parseHostPort(value: string, defaultHost = ''): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not HOST:PORT (e.g. 127.0.0.1:6667 or [::1]:6667)`);
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/**
 * For repeatable options: commander passes the previous list. A value may
 * hold several, comma-separated, which is how one environment variable or
 * one config line carries a list (QTSTATUS_UDP_TARGET=a:1,b:2).
 */
export function collect<T>(parse: (v: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter((v) => v !== '').map(parse)];
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`"${value}" is not a whole number of 0 or more`);
  }
  return n;
}

const UNITS_BYTES: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "1024", "1k", "16KiB", "8m": bytes. k, m, g are powers of 1024, as in nginx's sizes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = UNITS_BYTES[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${value}" is not a size (try 1024, 1k, 16KiB or 8m)`);
  return n;
}

/** 10000 → "10s", 65000 → "1m5s", 500 → "500ms": what parseDuration reads back. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/** 8192 → "8KiB", 1000 → "1000": what parseSize reads back. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** An option read as a duration, whose default --help shows with its unit. */
export function durationOption(flags: string, description: string, defaultMs?: number): Option {
  const o = new Option(flags, description).argParser(parseDuration);
  return defaultMs === undefined ? o : o.default(defaultMs, formatDuration(defaultMs));
}

/** An option read as a size in bytes, whose default --help shows with its unit. */
export function sizeOption(flags: string, description: string, defaultBytes?: number): Option {
  const o = new Option(flags, description).argParser(parseSize);
  return defaultBytes === undefined ? o : o.default(defaultBytes, formatSize(defaultBytes));
}
