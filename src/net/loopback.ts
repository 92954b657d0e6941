// Loopback addresses (RFC 1122 §3.2.1.3: 127.0.0.0/8; RFC 4291 §2.5.3: ::1),
// used to keep tests, benchmarks and the demo off the real network.
import { isIPv4, isIPv6 } from 'node:net';

export function isLoopbackAddress(address: string): boolean {
  const host = address.toLowerCase();
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (!isIPv6(host)) return false;
  const plain = host.split('%')[0] ?? '';
  if (plain === '::1' || plain === '0:0:0:0:0:0:0:1') return true;
  // IPv4-mapped loopback, e.g. ::ffff:127.0.0.1 (RFC 4291 §2.5.5.2).
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  return mapped !== null && (mapped[1] ?? '').startsWith('127.');
}
