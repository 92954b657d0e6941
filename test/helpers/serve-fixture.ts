// What the `qtstatus serve` test files share: a test PKI, a packet sink on
// 127.0.0.1 for --udp-target, and the server processes to stop at the end.
import { afterAll, beforeAll } from 'vitest';
import type { CliProcess } from './cli.ts';
import { packetSink, type PacketSink } from './packets.ts';
import { makeTestPki, type TestPki } from './pki.ts';

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
