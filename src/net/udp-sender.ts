// Sends status packets from one UDP source port (default 6666, as the old
// server) to every target: unicast, broadcast (SO_BROADCAST) or multicast
// (with a TTL). Targets are resolved once, at start, so a name that does not
// resolve is an error then, not a silent loss later. A failed send is
// counted and reported through onError, never thrown (issue #4).

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { ErrorCodes, QtError } from '../errors.ts';
import { hostPort } from './address.ts';
import { isLoopbackAddress } from './loopback.ts';

export interface UdpTarget {
  host: string;
  port: number;
}

export interface SenderOptions {
  targets: UdpTarget[];
  sourcePort: number;
  /** Multicast TTL (hops); 1 keeps multicast on the local network. */
  ttl?: number;
  /** Refuse any target outside 127.0.0.0/8 and ::1 (tests, demo). */
  loopbackOnly?: boolean;
  onError?: (err: Error, target: string) => void;
}

export interface UdpSender {
  /** Resolved targets, as "address:port". */
  readonly targets: string[];
  readonly stats: { sent: number; failed: number };
  /** Queues `datagram` for every target; it leaves with the next setImmediate. */
  send(datagram: Uint8Array): void;
  close(): Promise<void>;
}

export const DEFAULT_UDP_TARGET: UdpTarget = { host: '255.255.255.255', port: 6667 };

export function formatTarget(t: UdpTarget): string {
  return hostPort(t.host, t.port);
}

async function resolve(t: UdpTarget): Promise<{ address: string; family: 4 | 6; port: number }> {
  if (isIP(t.host)) return { address: t.host, family: isIPv6(t.host) ? 6 : 4, port: t.port };
  try {
    const r = await lookup(t.host);
    return { address: r.address, family: r.family as 4 | 6, port: t.port };
  } catch (err) {
    throw new QtError(ErrorCodes.NETWORK, `cannot resolve UDP target ${formatTarget(t)}`, {
      cause: err,
      reason: 'target_unresolved',
      setting: 'udpTarget',
      value: formatTarget(t),
      hint: 'use an IP address or a name that resolves',
    });
  }
}

function bind(type: 'udp4' | 'udp6', port: number): Promise<dgram.Socket> {
  // Every target is an address literal of the socket's family by the time it
  // is sent to (resolved once, above), so the lookup answers at once: the
  // default one goes through dns.lookup and a tick for each packet.
  const family = type === 'udp6' ? 6 : 4;
  const literal = (address: string, _family: unknown, done: (err: null, address: string, family: number) => void) => done(null, address, family);
  const socket = dgram.createSocket({ type, reuseAddr: true, lookup: literal as unknown as dgram.SocketOptions['lookup'] });
  return new Promise((ok, fail) => {
    socket.once('error', (err) => {
      socket.close();
      fail(
        new QtError(ErrorCodes.NETWORK, `cannot bind UDP source port ${port}`, {
          cause: err,
          reason: 'source_port_unavailable',
          setting: 'udpSourcePort',
          value: port,
        }),
      );
    });
    socket.bind(port, () => {
      socket.removeAllListeners('error');
      ok(socket);
    });
  });
}

export async function openUdpSender(opts: SenderOptions): Promise<UdpSender> {
  const resolved = await Promise.all(opts.targets.map(resolve));
  if (opts.loopbackOnly) {
    const outside = resolved.find((r) => !isLoopbackAddress(r.address));
    if (outside) {
      throw new QtError(ErrorCodes.REFUSED, `refusing to send UDP to ${formatTarget({ host: outside.address, port: outside.port })}`, {
        reason: 'loopback_only',
        setting: 'udpTarget',
        value: formatTarget({ host: outside.address, port: outside.port }),
      });
    }
  }
  const sockets = new Map<4 | 6, dgram.Socket>();
  try {
    for (const family of new Set(resolved.map((r) => r.family))) {
      const socket = await bind(family === 6 ? 'udp6' : 'udp4', opts.sourcePort);
      if (family === 4) socket.setBroadcast(true);
      socket.setMulticastTTL(opts.ttl ?? 1);
      socket.on('error', (err) => opts.onError?.(err, 'socket'));
      sockets.set(family, socket);
    }
  } catch (err) {
    for (const s of sockets.values()) s.close();
    throw err;
  }

  const stats = { sent: 0, failed: 0 };
  const sends = resolved.map((r) => {
    const socket = sockets.get(r.family) as dgram.Socket;
    const name = formatTarget({ host: r.address, port: r.port });
    const done = (err: Error | null) => {
      if (err) {
        stats.failed++;
        opts.onError?.(err, name);
      } else stats.sent++;
    };
    return (datagram: Uint8Array) => {
      try {
        socket.send(datagram, r.port, r.address, done);
      } catch (err) {
        done(err as Error);
      }
    };
  });

  // Datagrams are queued and leave together in the event loop's next check
  // phase (setImmediate), after the answers written meanwhile: a server that
  // answers first and then sends the turn's packets serves ~10% more requests
  // (bench/serve.ts), and a listener still hears each update within a turn
  // of its answer.
  let queued: Uint8Array[] = [];
  const flush = () => {
    const batch = queued;
    queued = [];
    for (const datagram of batch) for (const send of sends) send(datagram);
  };

  return {
    targets: resolved.map((r) => formatTarget({ host: r.address, port: r.port })),
    stats,
    send(datagram) {
      if (queued.push(datagram) === 1) setImmediate(flush);
    },
    async close() {
      flush(); // nothing queued is lost on the way out
      await Promise.all([...sockets.values()].map((s) => new Promise<void>((ok) => s.close(() => ok()))));
    },
  };
}
