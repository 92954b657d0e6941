// Addresses: a dual-stack server stores IPv4 clients as IPv4, and the default
// UDP target (the LAN broadcast) works, tested inside a network namespace
// the test makes, so no packet reaches the real network.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { createNetns, netnsUnavailable } from '../helpers/netns.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
const procs: CliProcess[] = [];
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  pki.remove();
});

const tlsArgs = () => ['--cert', pki.server.cert, '--key', pki.server.key, '--ca', pki.ca];

it('stores an IPv4 client of a dual-stack (::) server as plain IPv4', async () => {
  const db = join(pki.dir, 'dual.db');
  await runCli(['users', 'add', VALID_USER, '--db', db]);
  const proc = new CliProcess(['serve', '--host', '::', '--port', '0', '--db', db, ...tlsArgs(), '--udp-source-port', '0', '--udp-target', '127.0.0.1:9']);
  procs.push(proc);
  const port = (await proc.waitFor('stderr', /serving https:\/\/\[::\]:(\d+)/))[1];
  const r = await request(`https://127.0.0.1:${port}/api/client`, { ca: pki.ca, ...pki.client });
  expect(r.status).toBe(204);
  const shown = JSON.parse((await runCli(['users', 'show', VALID_USER, '--json', '--db', db])).stdout);
  expect(shown.ip).toBe('127.0.0.1');
});

describe.skipIf(netnsUnavailable !== undefined)(`the default broadcast target, in a network namespace${netnsUnavailable ? ` (skipped: ${netnsUnavailable})` : ''}`, () => {
  it('announces to 255.255.255.255:6667 from port 6666, and a listener there decodes it', async () => {
    const ns = createNetns();
    try {
      const db = join(pki.dir, 'ns.db');
      await runCli(['users', 'add', VALID_USER, '--db', db]);
      // Inside our own namespace the loopback-only guard is lifted on purpose.
      const env = { QTSTATUS_LOOPBACK_ONLY: '' };
      const listener = new CliProcess(['listen', '--count', '1', '--json'], { netns: ns.name, env });
      procs.push(listener);
      await listener.waitFor('stderr', /listening on 0\.0\.0\.0:6667/);
      const server = new CliProcess(['serve', '--host', '127.0.0.1', '--port', '0', '--db', db, ...tlsArgs()], { netns: ns.name, env });
      procs.push(server);
      const port = (await server.waitFor('stderr', /serving https:\/\/127\.0\.0\.1:(\d+)/))[1] as string;
      await server.waitFor('stderr', /UDP from port 6666 to 255\.255\.255\.255:6667/);
      const ping = await runCli(['ping', `https://localhost:${port}`, '--ca', pki.ca, '--cert', pki.client.cert, '--key', pki.client.key], { netns: ns.name });
      expect(ping.code, ping.stderr).toBe(0);
      const r = await listener.done();
      expect(JSON.parse(r.stdout)).toMatchObject({ type: 'status', email: VALID_USER, ip: '127.0.0.1', source: { port: 6666 } });
      server.kill('SIGTERM');
      expect((await server.done()).code).toBe(0);
    } finally {
      ns.remove();
    }
  });
});
