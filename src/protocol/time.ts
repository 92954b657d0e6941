// Nanosecond timestamps as exact BigInts (the wire format's uint64), shown as
// ISO 8601 UTC with all nine fraction digits. Date holds milliseconds only,
// so the fraction is cut from the decimal text of the BigInt itself.

const NS_PER_MS = 1_000_000n;

let cachedSecond = -1;
let cachedPrefix = '';

/** "2025-12-20T13:06:40.123456789Z" for nanoseconds since the Unix epoch. */
export function nsToIso(ns: bigint): string {
  const digits = ns.toString().padStart(10, '0');
  const second = Number(digits.slice(0, -9));
  // Packets in a burst share their second: format the date part once.
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${digits.slice(-9)}Z`;
}

let cachedMs = -1;
let cachedIso = '';

/** Date#toISOString for `ms`, formatted once per millisecond (it runs once per packet or request). */
export function msToIso(ms: number): string {
  if (ms !== cachedMs) {
    cachedMs = ms;
    cachedIso = new Date(ms).toISOString();
  }
  return cachedIso;
}

/**
 * A wall clock in nanoseconds that never goes backwards. Date.now() has
 * milliseconds only; between re-anchors (every second) the finer part comes
 * from the monotonic performance.now().
 */
export function createNsClock(): () => bigint {
  let anchorNs = 0n;
  let anchorPerf = 0;
  const anchor = () => {
    anchorNs = BigInt(Date.now()) * NS_PER_MS;
    anchorPerf = performance.now();
  };
  anchor(); // now, so the first reading has its sub-millisecond digits too
  let last = 0n;
  return () => {
    if (performance.now() - anchorPerf > 1000) anchor();
    let now = anchorNs + BigInt(Math.round((performance.now() - anchorPerf) * 1e6));
    if (now <= last) now = last + 1n;
    last = now;
    return now;
  };
}
