// The hard network rule: tests send UDP only to loopback. Child processes
// inherit QTSTATUS_LOOPBACK_ONLY, which the CLI honours by refusing any other
// destination; in this process every dgram send is checked too, so a test
// that forgets a loopback target fails instead of reaching the network.
import dgram from 'node:dgram';
import { isLoopbackAddress } from '../../src/net/loopback.ts';

process.env.QTSTATUS_LOOPBACK_ONLY = '1';

const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function guardedSend(this: dgram.Socket, ...args: unknown[]) {
  // send(msg, [offset, length,] port, address, callback): the address is the
  // first string argument after the message; no address means a connected
  // socket, whose peer the connect guard below already checked.
  const address = args.slice(1).find((a) => typeof a === 'string');
  if (address !== undefined && !isLoopbackAddress(address)) {
    throw new Error(`test tried to send UDP to ${address}: tests may send only to loopback`);
  }
  return (send as (...a: unknown[]) => void).apply(this, args);
} as typeof send;

const connect = dgram.Socket.prototype.connect;
dgram.Socket.prototype.connect = function guardedConnect(this: dgram.Socket, ...args: unknown[]) {
  const address = args.find((a) => typeof a === 'string');
  if (address !== undefined && !isLoopbackAddress(address)) {
    throw new Error(`test tried to connect UDP to ${address}: tests may send only to loopback`);
  }
  return (connect as (...a: unknown[]) => void).apply(this, args);
} as typeof connect;
