// The server library with a real store that has failed (closed under it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openUdpSender } from '../../src/net/udp-sender.ts';
import { createNsClock } from '../../src/protocol/time.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { DEFAULT_LIMITS, startServer, type RunningServer } from '../../src/server/server.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { request } from '../helpers/https.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
let server: RunningServer;
let store: SqliteStore;
const storeErrors: unknown[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  store = SqliteStore.open(join(pki.dir, 'failing.db'));
  await store.addUsers([VALID_USER], 1n);
  const sender = await openUdpSender({ targets: [{ host: '127.0.0.1', port: 9 }], sourcePort: 0, loopbackOnly: true });
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key), ca: readFileSync(pki.ca) },
    store,
    sender,
    clock: createNsClock(),
    autoEnroll: false,
    maxBodyBytes: 1024,
    metrics: createMetrics(() => sender.stats),
    limits: DEFAULT_LIMITS,
    onStoreError: (e) => storeErrors.push(e),
  });
});
afterAll(async () => {
  await server.close(1000);
  pki.remove();
});

it('answers 503 on /healthz and on updates when the store fails, and keeps serving', async () => {
  const url = server.url.replace('127.0.0.1', 'localhost');
  expect((await request(`${url}/api/client`, { ca: pki.ca, ...pki.client })).status).toBe(204);
  await store.close(); // the database goes away under the server
  const health = await request(`${url}/healthz`, { ca: pki.ca, method: 'GET' });
  expect(health.status).toBe(503);
  expect(health.json()).toEqual({ code: 'store_unavailable', status: 'degraded', message: 'the database does not answer' });
  const update = await request(`${url}/api/client`, { ca: pki.ca, ...pki.client });
  expect(update.status).toBe(503);
  expect(update.json().code).toBe('store_unavailable');
  expect(storeErrors.length).toBeGreaterThanOrEqual(2);
  expect((await request(`${url}/nope`, { ca: pki.ca, method: 'GET' })).status).toBe(404);
});
