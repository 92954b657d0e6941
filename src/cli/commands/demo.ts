// `qtstatus demo` (issues #2, #6): the whole system on loopback, with the
// real commands as a user would run them. In a temporary directory it makes
// certificates, registers a user, starts `qtstatus listen` and `qtstatus
// serve` on free loopback ports (the server's UDP target is the listener),
// pings four times (a valid user, a CN that is not an email, an unknown user,
// no certificate), shows the stored status, stops everything and cleans up.
// Nothing is sent to a non-loopback address.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { selfCommand } from '../self.ts';
import { colourFor } from '../style.ts';

const LOOPBACK = '127.0.0.1';
const USER = 'valid_user@qt-test.com';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function runDemo(): Promise<void> {
  const c = colourFor(process.stdout);
  const out = (text: string) => process.stdout.write(text);
  const indent = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n') + '\n';
  const dir = mkdtempSync(join(tmpdir(), 'qtstatus-demo-'));
  const env: NodeJS.ProcessEnv = { ...process.env, QTSTATUS_LOOPBACK_ONLY: '1' };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  if (c.level > 0) env.FORCE_COLOR = String(c.level);
  else env.NO_COLOR = '1';
  const children: ChildProcess[] = [];
  let step = 0;
  const heading = (text: string) => out(`\n${c.bold.blue(`${++step}.`)} ${c.bold(text)}\n`);
  const shown = (args: string[]) => out(c.dim(`  $ qtstatus ${args.join(' ')}\n`));

  const spawnSelf = (args: string[]) => {
    const self = selfCommand(args);
    const child = spawn(self.file, self.args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return child;
  };
  const run = (args: string[]): Promise<Ran> => {
    shown(args);
    const child = spawnSelf(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  };
  /** Starts a long-running command and resolves with the match of `ready` in its stderr. */
  const start = (args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> => {
    shown(args);
    const child = spawnSelf(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    return new Promise((resolve, reject) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        const match = ready.exec(stderr);
        if (match) resolve({ child, match, output: () => stdout });
      });
      child.once('close', (code) => reject(new QtError(ErrorCodes.INTERNAL, `\`qtstatus ${args[0]}\` exited early (code ${code})`, { cause: stderr.trim() })));
    });
  };
  const expectCode = (r: Ran, code: number, what: string) => {
    if (r.code !== code) {
      throw new QtError(ErrorCodes.INTERNAL, `the demo's ${what} exited ${r.code}, expected ${code}`, { cause: (r.stderr || r.stdout).trim() });
    }
  };

  out(`${c.bold('qtstatus demo')}: the whole loop on loopback, in ${dir}\n`);
  try {
    heading('A private CA, a server certificate and client certificates');
    expectCode(await run(['certs', 'init', '--key-type', 'ecdsa-p256']), 0, 'certs init');
    expectCode(await run(['certs', 'client', 'not_an_email', '--allow-non-email', '--name', 'bad_client']), 0, 'certs client');
    expectCode(await run(['certs', 'client', 'unknown@qt-test.com', '--name', 'unknown']), 0, 'certs client');
    out(indent('certs/ca.crt, server.crt, client.crt (CN=valid_user@qt-test.com), bad_client.crt (CN=not_an_email), unknown.crt'));

    heading(`Register ${USER}`);
    const added = await run(['users', 'add', USER]);
    expectCode(added, 0, 'users add');
    out(indent(added.stderr));

    heading('Start a listener for status packets on a free loopback port');
    const listener = await start(['listen', '--host', LOOPBACK, '--port', '0'], /listening on [^\s]+:(\d+)/);
    const udpPort = listener.match[1] as string;
    out(indent(`listening on udp://${LOOPBACK}:${udpPort}`));

    heading('Start the mTLS server, announcing updates to that listener');
    const server = await start(
      ['serve', '--host', LOOPBACK, '--port', '0', '--udp-source-port', '0', '--udp-target', `${LOOPBACK}:${udpPort}`, '--log', 'off'],
      /serving (https:\/\/[^\s]+)/,
    );
    const url = (server.match[1] as string).replace(LOOPBACK, 'localhost');
    out(indent(`serving ${url}`));

    const ping = async (title: string, args: string[], code: number) => {
      heading(title);
      const r = await run(['ping', url, ...args]);
      out(indent(r.stdout + r.stderr));
      expectCode(r, code, 'ping');
    };
    await ping(`Ping as ${USER}: recorded, answered 204, announced`, [], 0);
    await new Promise((r) => setTimeout(r, 200));
    out(c.dim('  the listener printed:\n') + indent(listener.output()));
    await ping('Ping with a certificate whose CN is not an email: 400', ['--cert', 'certs/bad_client.crt', '--key', 'certs/bad_client.key'], 5);
    await ping('Ping as unknown@qt-test.com, signed by the CA but not registered: 403', ['--cert', 'certs/unknown.crt', '--key', 'certs/unknown.key'], 6);
    await ping('Ping without a client certificate: 400', ['--no-cert'], 5);

    heading('The stored status');
    const list = await run(['users', 'list']);
    expectCode(list, 0, 'users list');
    out(indent(list.stdout));

    heading('Stop the server and the listener');
    for (const child of [server.child, listener.child]) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    }
    out(indent('stopped; every packet went to loopback only'));
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  out(`\n${c.green('demo finished')}: removed ${dir}\n`);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('run the whole system on loopback')
    .description(
      'In a temporary directory: make certificates, register a user, start a listener and the server on free loopback ports, ping four ways (valid, a CN that is not an email, an unknown user, no certificate), show the stored status, then clean up. Nothing is sent outside loopback.',
    )
    .addHelpText('after', '\nExample:\n  $ qtstatus demo        (also: npm start)')
    .action(runDemo);
}
