// Parsers for flag values. Each throws commander's InvalidArgumentError, which
// commander reports as a usage error (exit 2) naming the flag.

import { InvalidArgumentError } from 'commander';
import { isIP } from 'node:net';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); longer ones fire at once. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/** "500ms", "10s", "2m", "1h", "1m30s" or a bare number of seconds → milliseconds. */
export function parseDuration(value: string): number {
  const text = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Math.round(Number(text) * 1000);
  else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
      throw new InvalidArgumentError(`"${value}" is not a duration (try 500ms, 10s, 2m or 1h)`);
    }
    ms = Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS_MS[p[2] as string] ?? 0), 0));
  }
  if (ms > MAX_DURATION_MS) throw new InvalidArgumentError(`"${value}" is too long (at most 596h, about 24 days)`);
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

/** For repeatable options: commander passes the previous list. */
export function collect<T>(parse: (v: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`"${value}" is not a whole number of 0 or more`);
  }
  return n;
}
