// `qtstatus demo`: shows the system working on loopback only (issues #2, #6).
// It starts a real `qtstatus listen` child on a free loopback port, sends it
// valid and malformed status packets, and shows what the listener prints.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { encode } from '../../protocol/packet.ts';
import { selfCommand } from '../self.ts';
import { colourFor } from '../style.ts';

const LOOPBACK = '127.0.0.1';

function demoDatagrams(): Array<{ what: string; bytes: Uint8Array }> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const valid = encode({ email: 'valid_user@qt-test.com', lastSeenNs: now, ip: '127.0.0.1', port: 52044 });
  const bad = encode({ email: 'a@b.cd', lastSeenNs: now, ip: '127.0.0.1', port: 1 });
  bad.set(new TextEncoder().encode('a b'), 1); // a space: not an email
  return [
    { what: 'a valid status packet', bytes: valid },
    { what: 'a valid packet from an IPv6 client, port unknown', bytes: encode({ email: 'alice@example.org', lastSeenNs: now, ip: '2001:db8::7', port: 0 }) },
    { what: 'a truncated packet', bytes: valid.subarray(0, valid.length - 3) },
    { what: 'a packet whose email is not an address', bytes: bad },
    { what: 'a packet with a trailing byte', bytes: Uint8Array.from([...valid, 0]) },
    { what: '10 random bytes', bytes: Uint8Array.from({ length: 10 }, () => Math.floor(Math.random() * 256)) },
  ];
}

async function runDemo(): Promise<void> {
  const c = colourFor(process.stdout);
  const step = (text: string) => process.stdout.write(`\n${c.bold.blue('==>')} ${c.bold(text)}\n`);
  const datagrams = demoDatagrams();

  step(`starting \`qtstatus listen\` on ${LOOPBACK}, a free port`);
  const self = selfCommand(['listen', '--host', LOOPBACK, '--port', '0', '--count', String(datagrams.length), '--timeout', '10s']);
  // The child writes into our pipe: pass on whether we show colour.
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  if (c.level > 0) env.FORCE_COLOR = String(c.level);
  else env.NO_COLOR = '1';
  const child = spawn(self.file, self.args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.stdout.pipe(process.stdout, { end: false });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on [^\s]+:(\d+)/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new QtError(ErrorCodes.INTERNAL, `the listener exited early (code ${code})`, { cause: stderr.trim() })));
  });
  process.stdout.write(c.dim(`listener is on udp://${LOOPBACK}:${port}\n`));

  const socket = dgram.createSocket('udp4');
  try {
    for (const { what, bytes } of datagrams) {
      step(`sending ${what} (${bytes.length} bytes)`);
      await new Promise<void>((resolve, reject) => socket.send(bytes, port, LOOPBACK, (err) => (err ? reject(err) : resolve())));
      await new Promise((r) => setTimeout(r, 150)); // let the listener print before the next step
    }
  } finally {
    socket.close();
  }
  const [code] = await exited;
  step('the listener stopped after its --count and printed this summary on stderr');
  process.stdout.write(stderr.replace(/^listening on .*\n/m, ''));
  if (code !== 0) throw new QtError(ErrorCodes.INTERNAL, `the listener exited with code ${code}`);
  process.stdout.write(`\n${c.green('demo finished')}: every packet went to loopback only.\n`);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('show the system working on loopback')
    .description('Run a self-contained demonstration on loopback. Nothing is sent to the network.')
    .addHelpText('after', '\nExample:\n  $ qtstatus demo')
    .action(runDemo);
}
