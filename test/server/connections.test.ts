// Which connection makes room at a limit (issue #10, defect 4): real
// sockets on loopback, the guard's choice observed by which one closes.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectionGuard, type ShedReason } from '../../src/server/connections.ts';
import type { Verified } from '../../src/server/identity.ts';

let server: net.Server;
const accepted: net.Socket[] = [];
beforeAll(async () => {
  server = net.createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
});
afterAll(() => {
  for (const s of accepted) s.destroy();
  server.close();
});

/** The server side of a new connection from `from`, after `send` bytes arrived. */
async function connection(from: string, send = 0): Promise<net.Socket> {
  const before = accepted.length;
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', localAddress: from });
  client.on('error', () => {});
  await new Promise((r) => client.once('connect', r));
  if (send > 0) client.write(Buffer.alloc(send, 0x16));
  while (accepted.length === before || (send > 0 && (accepted[before] as net.Socket).bytesRead < send)) {
    (accepted[before] as net.Socket).resume?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  return accepted[before] as net.Socket;
}

const id: Verified = { ok: true, email: 'u@example.com', serial: '01', notBeforeMs: 0, notAfterMs: Infinity };

it('evicts refused identities first, then stalled handshakes, then the busiest address, never verified ones', async () => {
  const shed: ShedReason[] = [];
  const guard = new ConnectionGuard({ maxConnections: 4, maxConnectionsPerAddress: 100 }, (r) => shed.push(r));
  const t0 = Date.now();
  const verified = await connection('127.0.0.2', 5);
  const refused = await connection('127.0.0.3', 5);
  const stalled = await connection('127.0.0.4');
  const busy = await connection('127.0.0.5', 5);
  for (const s of [verified, refused, stalled, busy]) expect(guard.admit(s, t0)).toBe(true);
  guard.verify(verified, id);
  guard.refuse(refused);
  const later = t0 + 1000;
  expect(guard.admit(await connection('127.0.0.6', 5), later)).toBe(true);
  expect(refused.destroyed).toBe(true);
  expect(guard.admit(await connection('127.0.0.5', 5), later)).toBe(true);
  expect(stalled.destroyed).toBe(true); // no byte in 1 s
  const inHandshake = await connection('127.0.0.5', 5); // 127.0.0.5 now holds two handshakes: its oldest goes
  expect(guard.admit(inHandshake, later)).toBe(true);
  expect(busy.destroyed).toBe(true);
  expect(verified.destroyed).toBe(false);
  expect(shed).toEqual(['evicted_total', 'evicted_total', 'evicted_total']);
});

it('refuses a newcomer only when every connection at the limit is verified', async () => {
  const shed: ShedReason[] = [];
  const guard = new ConnectionGuard({ maxConnections: 100, maxConnectionsPerAddress: 2 }, (r) => shed.push(r));
  const a = await connection('127.0.0.7', 1);
  const b = await connection('127.0.0.7', 1);
  guard.admit(a, 0);
  guard.admit(b, 0);
  guard.verify(a, id);
  guard.verify(b, id);
  expect(guard.admit(await connection('127.0.0.7', 1), 0)).toBe(false);
  expect(shed).toEqual(['refused_per_address']);
  expect(guard.admit(await connection('127.0.0.8', 1), 0)).toBe(true); // other addresses are not held back
  expect(guard.closeWhere((v) => v.serial === '01')).toBe(2);
  expect([a.destroyed, b.destroyed]).toEqual([true, true]);
});
