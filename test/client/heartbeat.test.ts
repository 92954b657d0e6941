import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/agent.ts';
import { loadCredentials } from '../../src/client/credentials.ts';
import { backoffMs, heartbeat, type Beat, type StateChange } from '../../src/client/heartbeat.ts';
import { parseTarget } from '../../src/client/target.ts';
import { pem, startHttps, until, type TestHttps } from '../helpers/ping-servers.ts';
import { makeTestPki, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => pki.remove());

describe('backoffMs', () => {
  it('doubles from a second (or the interval when shorter), is capped and jittered between half and all of it', () => {
    const none = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 30_000, 30_000, none))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect([1, 2, 3].map((n) => backoffMs(n, 100, 30_000, none))).toEqual([100, 200, 400]);
    expect(backoffMs(1, 30_000, 30_000, () => 0)).toBe(500);
    expect(backoffMs(1000, 60_000, 60_000, () => 0.5)).toBe(45_000);
  });
});

describe('heartbeat', () => {
  it('keeps one connection, reports changes of state with the reason, backs off while unreachable, and sums up', async () => {
    let answer = 204;
    const tls = { cert: pem(pki.server.cert), key: pem(pki.server.key), requestCert: true, rejectUnauthorized: true, ca: pem(pki.ca) };
    const handler = (_req: unknown, res: import('node:http').ServerResponse) =>
      answer === 204 ? res.writeHead(204).end() : res.writeHead(answer, { 'content-type': 'application/json' }).end('{"code":"user_unknown","message":"User unknown"}');
    let server: TestHttps = await startHttps(tls, handler);
    const port = server.port;
    const credentials = await loadCredentials({ cert: pki.client.cert, key: pki.client.key, ca: pki.ca });
    const client = createClient({ target: parseTarget(server.url), credentials, timeoutMs: 2000, keepAliveMs: 5000 });
    const stop = new AbortController();
    const beats: Beat[] = [];
    const changes: StateChange[] = [];
    const done = heartbeat(client, { intervalMs: 60, maxBackoffMs: 240, signal: stop.signal, random: () => 0.5, onBeat: (b) => beats.push(b), onChange: (c) => changes.push(c) });
    try {
      await until(() => beats.length >= 4, 5000, 'four beats');
      expect(server.counts.handshakes).toBe(1);
      expect(changes.map((c) => c.to)).toEqual(['up']);
      expect(beats.every((b) => b.ok && b.nextInMs <= 60)).toBe(true);

      answer = 403; // reachable, but refusing: a change, retried at the interval
      await until(() => changes.length === 2, 5000, 'down (403)');
      expect(changes[1]?.beat.error?.kind).toBe('http-status');
      expect(changes[1]?.beat.nextInMs).toBeLessThanOrEqual(60);
      answer = 204;
      await until(() => changes.length === 3, 5000, 'up again');

      await server.close(); // unreachable: back off
      await until(() => changes.length === 4, 5000, 'down (refused)');
      expect(changes[3]?.to).toBe('down');
      expect(changes[3]?.beat.error?.kind).toBe('connection-refused');
      await until(() => beats.filter((b) => b.error?.kind === 'connection-refused').length >= 4, 5000, 'four refused beats');
      const waits = beats.filter((b) => b.error?.kind === 'connection-refused').map((b) => b.nextInMs);
      // 60 ms × 2^(n-1), capped at 240, × 0.75 (the jitter at random() = 0.5)
      expect(waits.every((w, i) => [45, 90, 180].includes(w) && w >= (waits[i - 1] ?? 0))).toBe(true);
      expect(waits.at(-1)).toBe(180);

      server = await startHttps(tls, handler, port);
      await until(() => changes.length === 5, 5000, 'up after the restart');
      expect(changes[4]).toMatchObject({ to: 'up', from: 'down' });
      expect(changes[4]?.afterMs).toBeGreaterThan(100);
    } finally {
      stop.abort();
    }
    const summary = await done;
    await client.destroy();
    await server.close();
    expect(summary.changes).toBe(4);
    expect(summary.beats).toBe(beats.length);
    expect(summary.failed).toBe(beats.filter((b) => !b.ok).length);
    expect(summary.errors['connection-refused']).toBeGreaterThanOrEqual(4);
    expect(summary.statuses['403']).toBeGreaterThanOrEqual(1);
    expect(summary.longestDownMs).toBeGreaterThan(100);
  });

  it('stops at once when aborted, even in the middle of a request', async () => {
    const slow = await startHttps({ cert: pem(pki.server.cert), key: pem(pki.server.key) }, () => {});
    const credentials = await loadCredentials({ cert: pki.client.cert, key: pki.client.key, ca: pki.ca });
    const client = createClient({ target: parseTarget(slow.url), credentials, timeoutMs: 10_000 });
    const stop = new AbortController();
    const done = heartbeat(client, { intervalMs: 1000, maxBackoffMs: 30_000, signal: stop.signal });
    await until(() => slow.counts.requests === 1, 5000, 'the request');
    const t0 = performance.now();
    stop.abort();
    const summary = await done;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(summary.beats).toBe(0);
    await client.destroy();
    await slow.close();
  });
});
