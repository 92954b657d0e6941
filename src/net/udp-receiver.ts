// A UDP socket that receives status packets: broadcast, unicast or multicast.
// SO_REUSEADDR lets several listeners that all set it share the port: on
// Linux each gets a copy of every broadcast and multicast datagram. The old
// Python listener binds without it, so it cannot share the port with us.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ErrorCodes, QtError } from '../errors.ts';
import { hostPort } from './address.ts';

export interface ReceiverOptions {
  host: string;
  port: number;
  /** A multicast group to join. */
  group?: string;
  /** The local interface address for the group. */
  iface?: string;
  /** Requested SO_RCVBUF; the kernel may cap it (net.core.rmem_max). */
  recvBufferSize?: number;
  /** Socket errors after binding; they never end the receiver. */
  onError?: (err: Error) => void;
}

export interface Receiver {
  /** The bound address and port (port 0 resolves here). */
  address: { address: string; port: number; family: string };
  /** The SO_RCVBUF the kernel granted. */
  recvBufferSize: number;
  close(): Promise<void>;
}

export type OnDatagram = (msg: Buffer, from: dgram.RemoteInfo) => void;

export const DEFAULT_RECV_BUFFER = 8 * 1024 * 1024;

/** Why a bind failed (src/cli/hints.ts has the advice), and the setting it is about. */
const bindReasons: Record<string, { reason: string; setting: 'host' | 'port'; hint?: string }> = {
  EADDRINUSE: { reason: 'address_in_use', setting: 'port' },
  EADDRNOTAVAIL: { reason: 'address_not_available', setting: 'host', hint: 'use an address of this machine, or 0.0.0.0 for all' },
  EACCES: { reason: 'port_privileged', setting: 'port' },
  ENOTFOUND: { reason: 'host_unresolved', setting: 'host', hint: 'use an IP address or a name that resolves' },
  EAI_AGAIN: { reason: 'host_unresolved', setting: 'host', hint: 'use an IP address or a name that resolves' },
};

/** Binds and, with `group`, joins; calls `onDatagram` for every datagram. */
export async function openReceiver(opts: ReceiverOptions, onDatagram: OnDatagram): Promise<Receiver> {
  const v6 = isIPv6(opts.host) || (opts.group !== undefined && isIPv6(opts.group));
  const socket = dgram.createSocket({
    type: v6 ? 'udp6' : 'udp4',
    reuseAddr: true,
    recvBufferSize: opts.recvBufferSize ?? DEFAULT_RECV_BUFFER,
  });
  socket.on('message', onDatagram);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      socket.close();
      const why = bindReasons[err.code ?? ''] ?? { reason: 'listen_failed', setting: 'port' };
      reject(
        new QtError(ErrorCodes.NETWORK, `cannot listen on UDP ${hostPort(opts.host, opts.port)}`, {
          cause: err,
          ...why,
          value: why.setting === 'port' ? opts.port : opts.host,
          facts: { host: opts.host, port: opts.port, shared: true },
        }),
      );
    };
    socket.once('error', onError);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });

  if (opts.group !== undefined) {
    try {
      socket.addMembership(opts.group, opts.iface);
    } catch (err) {
      socket.close();
      throw new QtError(ErrorCodes.NETWORK, `cannot join multicast group ${opts.group}`, {
        cause: err,
        reason: 'multicast_join_failed',
        setting: 'group',
        value: opts.group,
        facts: { iface: opts.iface },
      });
    }
  }
  // After binding, a socket error (rare for a receiver) must not crash it.
  socket.on('error', opts.onError ?? (() => {}));

  let closed: Promise<void> | undefined;
  return {
    address: socket.address(),
    recvBufferSize: socket.getRecvBufferSize(),
    close() {
      closed ??= new Promise((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}
