// The benchmarks' load generator (bench/https-load.ts) against a real
// `qtstatus serve`: its keep-alive client writes raw requests and reads
// only the status line and Content-Length, so check that what it counts is
// what the server did (every 204 announced once, by the server's own
// counter; refusals counted as their status), warm-up apart.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';

const fx = serveFixture();
const LOAD = fileURLToPath(new URL('../../bench/https-load.ts', import.meta.url));

interface Result {
  url: string;
  requests: number;
  statuses: Record<string, number>;
  errors: number;
  warmup: { requests: number; statuses: Record<string, number>; errors: number };
  generatorCpuUs: number;
}

function load(url: string, cert: { cert: string; key: string }, ...extra: string[]): Promise<Result[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, '--url', `${url}/api/client`, '--ca', fx.pki.ca, '--cert', cert.cert, '--key', cert.key, '--concurrency', '4', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Result[]) : reject(new Error(`https-load exited ${code}`))));
  });
}

describe('bench/https-load.ts', () => {
  it('keep-alive: counts what the server answered, warm-up apart, and every 204 was announced once', async () => {
    const { url, proc } = await startServe(fx, '--rate-limit', '0', '--metrics', '127.0.0.1:0');
    const metrics = (await proc.waitFor('stderr', /metrics on (http:\S+)/))[1] as string;
    const [r] = await load(url, fx.pki.client, '--mode', 'keepalive', '--seconds', '1', '--warmup-seconds', '0.5');
    expect(r?.errors).toBe(0);
    expect(r?.warmup.errors).toBe(0);
    const acked = (r?.statuses['204'] ?? 0) + (r?.warmup.statuses['204'] ?? 0);
    expect(r?.requests).toBeGreaterThan(0);
    expect(r?.warmup.requests).toBeGreaterThan(0);
    expect(acked).toBe((r?.requests ?? 0) + (r?.warmup.requests ?? 0));
    // The server's own count (a loopback sink may drop datagrams on a busy machine; the bench reads the same counter).
    const sent = Number(/^qtstatus_udp_packets_sent_total (\d+)/m.exec(await (await fetch(metrics)).text())?.[1]);
    expect(sent).toBe(acked);
    expect(r?.generatorCpuUs).toBeGreaterThan(0);
  });

  it('keep-alive: a refused identity counts as its status (400, the connection closed), not as an error', async () => {
    const { url } = await startServe(fx, '--rate-limit', '0');
    const [r] = await load(url, fx.pki.badCn, '--mode', 'keepalive', '--seconds', '0.5');
    expect(r?.errors).toBe(0);
    expect(r?.requests).toBeGreaterThan(0);
    expect(r?.statuses).toEqual({ 400: r?.requests });
  });
});
