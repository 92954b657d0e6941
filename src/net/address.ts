// How addresses are shown and stored, the same everywhere.

/** "::ffff:127.0.0.1" (an IPv4 client of a dual-stack socket) as 127.0.0.1 (RFC 4291 §2.5.5.2). */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** host:port as people write it: [::1]:8443 for IPv6. */
export function hostPort(host: string, port: number): string {
  const h = plainIp(host);
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
