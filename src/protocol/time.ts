// Nanosecond timestamps as exact BigInts (the wire format's uint64), shown as
// ISO 8601 UTC with all nine fraction digits. Date holds milliseconds only,
// so the fraction is written from the BigInt itself.

const NS_PER_MS = 1_000_000n;

/** "2025-12-20T13:06:40.123456789Z" for nanoseconds since the Unix epoch. */
export function nsToIso(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(Number(ms)).toISOString().slice(0, 19) + '.' + fraction + 'Z';
}
