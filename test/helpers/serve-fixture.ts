// What the `qtstatus serve` test files share: a test PKI, a packet sink on
// 127.0.0.1 for --udp-target, and the server processes to stop at the end.
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { CliProcess, runCli } from './cli.ts';
import { packetSink, type PacketSink } from './packets.ts';
import { makeTestPki, VALID_USER, type TestPki } from './pki.ts';

export interface ServeFixture {
  pki: TestPki;
  sink: PacketSink;
  procs: CliProcess[];
}

/** Registers beforeAll/afterAll for the calling file; the fields are set once beforeAll has run. */
export function serveFixture(): ServeFixture {
  const fx = { procs: [] as CliProcess[] } as ServeFixture;
  beforeAll(async () => {
    fx.pki = await makeTestPki();
    fx.sink = await packetSink();
  });
  afterAll(() => {
    for (const p of fx.procs) p.kill('SIGKILL');
    fx.sink?.close();
    fx.pki?.remove();
  });
  return fx;
}

let dbCount = 0;

/** `qtstatus serve` on 127.0.0.1 port 0 with the fixture's PKI and a fresh db holding VALID_USER; resolves once it serves. */
export async function startServe(fx: ServeFixture, ...extra: string[]): Promise<{ proc: CliProcess; url: string; db: string }> {
  const db = join(fx.pki.dir, `serve${dbCount++}.db`);
  const add = await runCli(['users', 'add', VALID_USER, '--db', db]);
  if (add.code !== 0) throw new Error(`users add failed: ${add.stderr}`);
  const proc = new CliProcess([
    'serve', '--host', '127.0.0.1', '--port', '0', '--db', db,
    '--cert', fx.pki.server.cert, '--key', fx.pki.server.key, '--ca', fx.pki.ca,
    '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`, ...extra,
  ]);
  fx.procs.push(proc);
  const m = await proc.waitFor('stderr', /serving (https?:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url: (m[1] as string).replace('127.0.0.1', 'localhost'), db };
}
