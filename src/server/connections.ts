// Who holds the server's connections (issue #10, defects 4 and 5).
//
// Unverified clients must not lock verified ones out: 200 connections that
// never present a certificate used to fill --max-connections 200. So every
// connection is unverified until its handshake yields a valid identity, and
// at a limit (all connections, or one source address's) an unverified
// connection is closed to make room; only when every connection at the limit
// is verified is the new one refused. Which one goes, in this order:
//  1. one whose identity was already refused (it only waits for its 400);
//  2. a handshake that has not sent a byte in its first STALLED_MS (a
//     younger one may just not have been read yet on a busy server);
//  3. a handshake from the address holding the most of them, oldest first:
//     a flood reconnects faster than a real client handshakes, so "oldest"
//     alone would pick the one real handshake among young flood connections
//     (seen in test/cli/serve-soak.test.ts).
// (Envoy's overload manager and HAProxy's queueing solve the same; nginx's
// limit_conn only refuses.)
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

/** Unverified connections, each set in insertion order (the first is the oldest). */
interface Unverified {
  /** Identity refused at the handshake: waiting for their 400. */
  refused: Set<Tracked>;
  /** Still in the handshake (or plain HTTP, not yet behind a proxy). */
  pending: Set<Tracked>;
}

interface PerAddress extends Unverified {
  count: number;
}

export type ShedReason = 'evicted_total' | 'evicted_per_address' | 'refused_total' | 'refused_per_address' | 'revoked';

/** How many of the oldest pending handshakes are weighed for eviction: bounded work at the limit. */
const CANDIDATES = 16;
const STALLED_MS = 250;

export class ConnectionGuard {
  private readonly limits: ConnectionLimits;
  private readonly tracked = new Map<Socket, Tracked>();
  private readonly all: Unverified = { refused: new Set(), pending: new Set() };
  private readonly addresses = new Map<string, PerAddress>();
  private readonly onShed: (reason: ShedReason) => void;

  constructor(limits: ConnectionLimits, onShed: (reason: ShedReason) => void = () => {}) {
    this.limits = limits;
    this.onShed = onShed;
  }

  /**
   * A new TCP connection. Admitted (true), perhaps by closing an unverified
   * one, or refused (false: the caller destroys it). `exempt`: a trusted
   * proxy's connection.
   */
  admit(socket: Socket, now: number, exempt = false): boolean {
    const address = plainIp(socket.remoteAddress ?? '');
    let per = this.addresses.get(address);
    if (!exempt && per && per.count >= this.limits.maxConnectionsPerAddress) {
      const victim = this.victim(per, now);
      if (!victim) return this.shed('refused_per_address');
      this.evict(victim, 'evicted_per_address');
    }
    if (this.tracked.size >= this.limits.maxConnections) {
      const victim = this.victim(this.all, now);
      if (!victim) return this.shed('refused_total');
      this.evict(victim, 'evicted_total');
    }
    const t: Tracked = { socket, address, openedAt: now };
    this.tracked.set(socket, t);
    if (!per) this.addresses.set(address, (per = { count: 0, refused: new Set(), pending: new Set() }));
    per.count++;
    socket.once('close', () => this.forget(socket));
    if (exempt) return true;
    per.pending.add(t);
    this.all.pending.add(t);
    return true;
  }

  /** The handshake gave a valid identity: this connection is never evicted. */
  verify(socket: Socket, identity: Verified): void {
    const t = this.settle(socket);
    if (t) t.identity = identity;
  }

  /** The handshake gave a refused identity: the first to go at a limit. */
  refuse(socket: Socket): void {
    const t = this.settle(socket);
    if (!t) return;
    this.all.refused.add(t);
    this.addresses.get(t.address)?.refused.add(t);
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
    const t = this.settle(socket);
    if (!t) return;
    this.tracked.delete(socket);
    this.all.refused.delete(t);
    const per = this.addresses.get(t.address);
    if (!per) return;
    per.refused.delete(t);
    if (--per.count === 0) this.addresses.delete(t.address);
  }

  /** Out of the pending sets; the tracked entry. */
  private settle(socket: Socket): Tracked | undefined {
    const t = this.tracked.get(socket);
    if (!t) return undefined;
    this.all.pending.delete(t);
    this.addresses.get(t.address)?.pending.delete(t);
    return t;
  }

  /** Which unverified connection of `set` goes (the order at the top of this file). */
  private victim(set: Unverified, now: number): Tracked | undefined {
    const refused = first(set.refused);
    if (refused) return refused;
    let best: Tracked | undefined;
    let bestScore = Infinity;
    let seen = 0;
    for (const t of set.pending) {
      if (t.socket.bytesRead === 0 && now - t.openedAt >= STALLED_MS) return t;
      const score = -(this.addresses.get(t.address)?.pending.size ?? 0);
      if (score < bestScore) [best, bestScore] = [t, score];
      if (++seen === CANDIDATES) break;
    }
    return best;
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
