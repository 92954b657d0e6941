import dgram from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../src/protocol/packet.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
let udp: dgram.Socket;
let announced = 0;
beforeAll(async () => {
  pki = await makeTestPki();
  udp = dgram.createSocket('udp4');
  udp.on('message', (m) => decode(m).ok && announced++);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
});
afterAll(() => {
  udp.close();
  pki.remove();
});

describe('serve --workers', () => {
  it('serves one port from several processes with one store, restarts a dead worker, and stops on SIGTERM', async () => {
    const db = join(pki.dir, 'workers.db');
    await runCli(['users', 'add', VALID_USER, '--db', db]);
    const proc = new CliProcess([
      'serve', '--workers', '2', '--host', '127.0.0.1', '--port', '0', '--db', db, '--rate-limit', '0',
      '--cert', pki.server.cert, '--key', pki.server.key, '--ca', pki.ca,
      '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udp.address().port}`, '--metrics', '127.0.0.1:0',
    ], { timeoutMs: 40_000 });
    try {
      const m = await proc.waitFor('stderr', /serving https:\/\/127\.0\.0\.1:(\d+) with 2 workers/, 15_000);
      const url = `https://localhost:${m[1]}/api/client`;
      const replies = await Promise.all(Array.from({ length: 20 }, () => request(url, { ca: pki.ca, ...pki.client })));
      expect(replies.map((r) => r.status)).toEqual(Array(20).fill(204));
      const metricsUrl = (await proc.waitFor('stderr', /metrics on (http:\S+)/))[1] as string;
      const text = await (await fetch(metricsUrl)).text();
      expect(text).toMatch(/qtstatus_http_requests_total\{route="api_client",status="204"\} 20/);

      // A worker that dies is replaced, and the port keeps answering.
      const pids = await workerPids(proc.child.pid as number);
      expect(pids).toHaveLength(2);
      process.kill(pids[0] as number, 'SIGKILL');
      await proc.waitFor('stderr', /worker \d+ exited .*starting another/);
      const after = await request(url, { ca: pki.ca, ...pki.client });
      expect(after.status).toBe(204);

      proc.kill('SIGTERM');
      const r = await proc.done();
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/stopped/);
      expect(announced).toBe(21);
      const shown = JSON.parse((await runCli(['users', 'show', VALID_USER, '--json', '--db', db])).stdout);
      expect(shown.lastSeenNs).not.toBeNull();
    } finally {
      proc.kill('SIGKILL');
    }
  });
});

async function workerPids(primary: number): Promise<number[]> {
  const { readFileSync, readdirSync } = await import('node:fs');
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(primary);
      } catch {
        return false;
      }
    })
    .map(Number);
}
