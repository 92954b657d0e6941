// The server runtime (issue #11): what start makes, close undoes; a start
// that fails half-way leaves nothing open behind it.
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRuntime, type RuntimeConfig } from '../../src/server/runtime.ts';
import { DEFAULT_LIMITS } from '../../src/server/server.ts';
import { request } from '../helpers/https.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';
import { packetSink, takePacket, type PacketSink } from '../helpers/packets.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

let pki: TestPki;
let sink: PacketSink;
beforeAll(async () => {
  pki = await makeTestPki();
  sink = await packetSink();
});
afterAll(() => {
  sink.close();
  pki.remove();
});

const freePort = (kind: 'tcp' | 'udp') =>
  new Promise<number>((resolve) => {
    if (kind === 'tcp') {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    } else {
      const s = dgram.createSocket('udp4').bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    }
  });

async function config(db: string, extra: Partial<RuntimeConfig> = {}): Promise<RuntimeConfig> {
  return {
    host: '127.0.0.1',
    port: await freePort('tcp'),
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca },
    db,
    storeTimeoutMs: 1000,
    autoEnroll: false,
    udp: { targets: [{ host: '127.0.0.1', port: sink.port }], sourcePort: await freePort('udp'), ttl: 1, loopbackOnly: true },
    maxBodyBytes: 1024,
    limits: DEFAULT_LIMITS,
    ...extra,
  };
}

it('serves, and close frees the port, the UDP source port and the store', async () => {
  const db = join(pki.dir, 'rt.db');
  const seed = SqliteStore.open(db);
  await seed.addUsers([VALID_USER], 1n);
  await seed.close();
  const c = await config(db);
  const rt = await startRuntime(c);
  const r = await request(`${rt.url.replace('127.0.0.1', 'localhost')}/api/client`, { ca: pki.ca, ...pki.client });
  expect(r.status).toBe(204);
  expect(await takePacket(sink, VALID_USER)).toMatchObject({ port: r.localPort });
  await rt.close(1000);
  const again = await startRuntime(c); // same ports: everything was let go
  expect(again.url).toBe(rt.url);
  await again.close(1000);
});

it('undoes what it made when a later step fails (a taken metrics port)', async () => {
  const db = join(pki.dir, 'rt2.db');
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  const metricsPort = (taken.address() as net.AddressInfo).port;
  const c = await config(db, { metrics: { host: '127.0.0.1', port: metricsPort } });
  await expect(startRuntime(c)).rejects.toThrow(/cannot listen for metrics on 127\.0\.0\.1:\d+/);
  taken.close();
  const rt = await startRuntime({ ...c, metrics: undefined }); // its HTTPS and UDP ports were freed
  await rt.close(1000);
});
