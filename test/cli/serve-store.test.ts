// Issue #10, defect 6: while another process holds the database's write
// lock, `qtstatus serve` keeps answering: /healthz at once (degraded),
// updates with 503 after --store-timeout, and 204 again once the lock goes.
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { request } from '../helpers/https.ts';
import { takePacket } from '../helpers/packets.ts';
import { VALID_USER } from '../helpers/pki.ts';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';

const fx = serveFixture();

describe('serve while another process holds the database', () => {
  it('answers /healthz and other requests, refuses updates after the bound, recovers', async () => {
    const { url, db } = await startServe(fx, '--store-timeout', '1s');
    const patch = () => request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    expect((await patch()).status).toBe(204);
    await takePacket(fx.sink, VALID_USER);

    const other = new DatabaseSync(db);
    other.exec('BEGIN IMMEDIATE');
    const pending = patch();
    // Answered while the update waits: the server's event loop is free.
    const health = await request(`${url}/healthz`, { ca: fx.pki.ca, method: 'GET' });
    expect(health.status).toBe(503);
    expect(health.json()).toMatchObject({ code: 'store_unavailable', status: 'degraded' });
    expect(health.json().message).toMatch(/write lock/);
    let settled = false;
    void pending.finally(() => (settled = true));
    expect((await request(`${url}/nowhere`, { ca: fx.pki.ca, method: 'GET' })).status).toBe(404);
    expect(settled).toBe(false);
    const refused = await pending;
    expect(refused.status).toBe(503);
    expect(refused.json().code).toBe('store_unavailable');

    other.exec('COMMIT');
    other.close();
    expect((await patch()).status).toBe(204);
    await takePacket(fx.sink, VALID_USER);
    expect((await request(`${url}/healthz`, { ca: fx.pki.ca, method: 'GET' })).json()).toEqual({ status: 'ok' });
    expect(fx.sink.packets.filter((p) => p.email === VALID_USER)).toEqual([]); // the refused update announced nothing
  });

  it('an update older than the stored one (another server\'s, newer) announces the stored update: its time with its own address', async () => {
    const { url, db } = await startServe(fx);
    const future = (BigInt(Date.now()) + 3_600_000n) * 1_000_000n;
    const other = new DatabaseSync(db);
    other.prepare('UPDATE users SET last_seen_ns = ?, ip = ?, port = ? WHERE email = ?').run(future, '10.9.9.9', 999, VALID_USER);
    other.close();
    expect((await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client })).status).toBe(204);
    const packet = await takePacket(fx.sink, VALID_USER);
    expect(packet).toMatchObject({ email: VALID_USER, lastSeenNs: future, ip: '10.9.9.9', port: 999 });
  });
});
