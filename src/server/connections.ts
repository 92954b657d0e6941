// Who holds the server's connections (issue #10, defects 4 and 5).
//
// Unverified clients must not lock verified ones out: 200 connections that
// never present a certificate used to fill --max-connections 200. So every
// connection is unverified until its handshake yields a valid identity, and
// at a limit (all connections, or one source address's) the oldest
// unverified connection is closed to make room; only when every connection
// at the limit is verified is the new one refused. A verified client
// finishes its handshake in milliseconds, while a flood's stalled handshakes
// age in place, so the flood evicts itself. (Envoy's overload manager and
// HAProxy's queueing solve the same; nginx's limit_conn only refuses.)
// Connections from a trusted proxy (--trust-proxy) carry many clients: they
// count towards the total but are never evicted and have no per-address cap.

import type { Socket } from 'node:net';
import { plainIp } from '../net/address.ts';
import type { Verified } from './identity.ts';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

interface Tracked {
  socket: Socket;
  address: string;
  openedAt: number;
  identity?: Verified;
}

interface PerAddress {
  count: number;
  /** Insertion order is age: the first is the oldest. */
  unverified: Set<Tracked>;
}

export type ShedReason = 'evicted_total' | 'evicted_per_address' | 'refused_total' | 'refused_per_address' | 'revoked';

export class ConnectionGuard {
  private readonly limits: ConnectionLimits;
  private readonly tracked = new Map<Socket, Tracked>();
  private readonly unverified = new Set<Tracked>();
  private readonly addresses = new Map<string, PerAddress>();
  private readonly onShed: (reason: ShedReason) => void;

  constructor(limits: ConnectionLimits, onShed: (reason: ShedReason) => void = () => {}) {
    this.limits = limits;
    this.onShed = onShed;
  }

  get size(): number {
    return this.tracked.size;
  }

  /**
   * A new TCP connection. Admitted (true), perhaps by closing the oldest
   * unverified one, or refused (false: the caller destroys it).
   * `exempt`: a trusted proxy's connection.
   */
  admit(socket: Socket, now: number, exempt = false): boolean {
    const address = plainIp(socket.remoteAddress ?? '');
    let per = this.addresses.get(address);
    if (!exempt && per && per.count >= this.limits.maxConnectionsPerAddress) {
      const oldest = first(per.unverified);
      if (!oldest) return this.shed('refused_per_address');
      this.evict(oldest, 'evicted_per_address');
    }
    if (this.tracked.size >= this.limits.maxConnections) {
      const oldest = first(this.unverified);
      if (!oldest) return this.shed('refused_total');
      this.evict(oldest, 'evicted_total');
    }
    const t: Tracked = { socket, address, openedAt: now };
    this.tracked.set(socket, t);
    if (!per) this.addresses.set(address, (per = { count: 0, unverified: new Set() }));
    per.count++;
    socket.once('close', () => this.forget(socket));
    if (exempt) return true;
    per.unverified.add(t);
    this.unverified.add(t);
    return true;
  }

  /** The handshake gave a valid identity: this connection is never evicted. */
  verify(socket: Socket, identity: Verified): void {
    const t = this.tracked.get(socket);
    if (!t) return;
    t.identity = identity;
    this.unverified.delete(t);
    this.addresses.get(t.address)?.unverified.delete(t);
  }

  openedAt(socket: Socket): number | undefined {
    return this.tracked.get(socket)?.openedAt;
  }

  /** Closes the verified connections whose identity `match`es (a revoked certificate); returns how many. */
  closeWhere(match: (id: Verified) => boolean): number {
    let n = 0;
    for (const t of [...this.tracked.values()]) {
      if (t.identity && match(t.identity)) {
        this.evict(t, 'revoked');
        n++;
      }
    }
    return n;
  }

  forget(socket: Socket): void {
    const t = this.tracked.get(socket);
    if (!t) return;
    this.tracked.delete(socket);
    this.unverified.delete(t);
    const per = this.addresses.get(t.address);
    if (!per) return;
    per.unverified.delete(t);
    if (--per.count === 0) this.addresses.delete(t.address);
  }

  private evict(t: Tracked, reason: ShedReason): void {
    this.forget(t.socket);
    t.socket.destroy();
    this.onShed(reason);
  }

  private shed(reason: ShedReason): false {
    this.onShed(reason);
    return false;
  }
}

/**
 * The TCP socket under a server-side TLS socket (what `connection` saw).
 * Node keeps it as `_parent`; a TLS socket without one is tracked as itself.
 */
export function tcpSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}
