// The UDP sender `qtstatus serve` announces through (issue #4): every target,
// IPv4 and IPv6, from the configured source port; names resolved once at
// start; failures counted, never thrown. Loopback only.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, QtError } from '../../src/errors.ts';
import { openUdpSender, type UdpSender } from '../../src/net/udp-sender.ts';

interface Receiver {
  port: number;
  got: Array<{ data: Buffer; from: dgram.RemoteInfo }>;
  close(): void;
}

async function receiver(type: 'udp4' | 'udp6', address: string): Promise<Receiver> {
  const socket = dgram.createSocket(type);
  const got: Receiver['got'] = [];
  socket.on('message', (data, from) => got.push({ data, from }));
  await new Promise<void>((r) => socket.bind(0, address, r));
  return { port: socket.address().port, got, close: () => socket.close() };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
}

const opened: Array<UdpSender | Receiver> = [];
afterEach(async () => {
  for (const x of opened.splice(0)) await x.close();
});

describe('openUdpSender', () => {
  it('sends each datagram to every target, IPv4 and IPv6, from one source port', async () => {
    const v4 = await receiver('udp4', '127.0.0.1');
    const v6 = await receiver('udp6', '::1');
    opened.push(v4, v6);
    const probe = await receiver('udp4', '127.0.0.1'); // a free port for the source
    const sourcePort = probe.port;
    probe.close();
    const sender = await openUdpSender({ targets: [{ host: '127.0.0.1', port: v4.port }, { host: '::1', port: v6.port }], sourcePort });
    opened.push(sender);
    expect(sender.targets).toEqual([`127.0.0.1:${v4.port}`, `[::1]:${v6.port}`]);

    sender.send(Uint8Array.of(1, 2, 3));
    sender.send(Uint8Array.of(4));
    await until(() => v4.got.length === 2 && v6.got.length === 2);
    expect(v4.got.map((g) => [...g.data])).toEqual([[1, 2, 3], [4]]);
    expect(v6.got.map((g) => [...g.data])).toEqual([[1, 2, 3], [4]]);
    expect(v4.got.every((g) => g.from.port === sourcePort)).toBe(true);
    expect(v6.got.every((g) => g.from.port === sourcePort)).toBe(true);
    await until(() => sender.stats.sent === 4);
    expect(sender.stats).toEqual({ sent: 4, failed: 0 });
  });

  it('sends what is still queued when closed, in order', async () => {
    const r = await receiver('udp4', '127.0.0.1');
    opened.push(r);
    const sender = await openUdpSender({ targets: [{ host: '127.0.0.1', port: r.port }], sourcePort: 0 });
    for (let i = 0; i < 5; i++) sender.send(Uint8Array.of(i));
    await sender.close();
    await until(() => r.got.length === 5);
    expect(r.got.map((g) => g.data[0])).toEqual([0, 1, 2, 3, 4]);
    expect(sender.stats).toEqual({ sent: 5, failed: 0 });
  });

  it('resolves a name once, at start', async () => {
    const { address, family } = await lookup('localhost');
    const r = await receiver(family === 6 ? 'udp6' : 'udp4', address);
    opened.push(r);
    const sender = await openUdpSender({ targets: [{ host: 'localhost', port: r.port }], sourcePort: 0 });
    opened.push(sender);
    expect(sender.targets).toEqual([family === 6 ? `[${address}]:${r.port}` : `${address}:${r.port}`]);
    sender.send(Uint8Array.of(9));
    await until(() => r.got.length === 1);
    expect([...(r.got[0]?.data ?? [])]).toEqual([9]);
  });

  it('refuses a name that does not resolve, before sending anything', async () => {
    const err = await openUdpSender({ targets: [{ host: 'no-such-host.invalid', port: 6667 }], sourcePort: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QtError);
    expect((err as QtError).code).toBe(ErrorCodes.NETWORK);
    expect((err as QtError).message).toBe('cannot resolve UDP target no-such-host.invalid:6667');
  });

  it('refuses a target outside loopback when told to', async () => {
    const err = await openUdpSender({ targets: [{ host: '192.0.2.1', port: 6667 }], sourcePort: 0, loopbackOnly: true }).catch((e: unknown) => e);
    expect((err as QtError).code).toBe(ErrorCodes.REFUSED);
    expect((err as QtError).message).toBe('refusing to send UDP to 192.0.2.1:6667');
  });

  it('reports a source port that is taken', async () => {
    const holder = dgram.createSocket('udp4'); // no SO_REUSEADDR: the sender cannot share it
    await new Promise<void>((r) => holder.bind(0, r));
    try {
      const err = await openUdpSender({ targets: [{ host: '127.0.0.1', port: 9 }], sourcePort: holder.address().port }).catch((e: unknown) => e);
      expect((err as QtError).message).toBe(`cannot bind UDP source port ${holder.address().port}`);
    } finally {
      holder.close();
    }
  });

  it('counts and reports a failed send instead of throwing', async () => {
    const r = await receiver('udp4', '127.0.0.1');
    opened.push(r);
    const errors: string[] = [];
    const sender = await openUdpSender({ targets: [{ host: '127.0.0.1', port: r.port }], sourcePort: 0, onError: (e, target) => errors.push(`${target} ${(e as NodeJS.ErrnoException).code}`) });
    opened.push(sender);
    expect(() => sender.send(new Uint8Array(70_000))).not.toThrow(); // over the 65,507-byte UDP limit
    sender.send(Uint8Array.of(1));
    await until(() => sender.stats.sent + sender.stats.failed === 2);
    expect(sender.stats).toEqual({ sent: 1, failed: 1 });
    expect(errors).toEqual([`127.0.0.1:${r.port} EMSGSIZE`]);
  });
});
