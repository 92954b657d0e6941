// Issue #13: lower layers report facts (a reason, the setting, the path, the
// value); the advice that names options and commands is src/cli/hints.ts's,
// and names each setting the way the user gave it: a flag, an environment
// variable or a line of a config file.
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, QtError } from '../../src/errors.ts';
import { settle } from '../../src/cli/config.ts';
import { how, hintFor } from '../../src/cli/hints.ts';
import { buildProgram } from '../../src/cli/main.ts';
import { formatError } from '../../src/cli/report.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-hints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `qtstatus <names…>` of a fresh program with `flags` set as on the command line, then settled as before an action. */
function commandAfter(names: string[], flags: Record<string, unknown>, env: Record<string, string> = {}): Command {
  let cmd = buildProgram() as Command;
  for (const n of names) cmd = cmd.commands.find((c) => c.name() === n) as Command;
  for (const [attr, value] of Object.entries(flags)) cmd.setOptionValueWithSource(attr, value, 'cli');
  settle(cmd, env);
  return cmd;
}

const inUse = (port: number) =>
  new QtError(ErrorCodes.NETWORK, `cannot listen on 127.0.0.1:${port}`, { reason: 'address_in_use', setting: 'port', value: port, facts: { port } });

describe('how(setting): the setting as the user gave it', () => {
  it('a flag, the environment, a config file, or (not given) the flag', () => {
    const file = join(dir, 'serve.conf');
    writeFileSync(file, 'port = 9443\n');
    expect(how(commandAfter(['serve'], { port: 9443 }), 'port')).toMatchObject({ source: 'cli', name: '--port' });
    expect(how(commandAfter(['serve'], {}, { QTSTATUS_PORT: '9443' }), 'port')).toMatchObject({ source: 'env', name: 'QTSTATUS_PORT' });
    expect(how(commandAfter(['serve'], { config: file }), 'port')).toMatchObject({ source: 'config', name: `port in ${file}` });
    expect(how(commandAfter(['serve'], {}), 'port')).toMatchObject({ source: 'default', name: '--port' });
    expect(how(undefined, 'udpSourcePort')).toMatchObject({ source: 'default', name: '--udp-source-port' });
  });

  it('the config file may come from the environment too', () => {
    const file = join(dir, 'listen.conf');
    writeFileSync(file, 'port = 6668\n');
    expect(how(commandAfter(['listen'], {}, { QTSTATUS_LISTEN_CONFIG: file }), 'port').name).toBe(`port in ${file}`);
  });

  it('gives a value the way it would be set', () => {
    const file = join(dir, 'serve2.conf');
    writeFileSync(file, 'udp-target = 192.0.2.1:6667\n');
    expect(how(commandAfter(['serve'], {}), 'udpTarget').give('127.0.0.1:PORT')).toBe('--udp-target 127.0.0.1:PORT');
    expect(how(commandAfter(['serve'], {}, { QTSTATUS_UDP_TARGET: '192.0.2.1:6667' }), 'udpTarget').give('127.0.0.1:PORT')).toBe('QTSTATUS_UDP_TARGET=127.0.0.1:PORT');
    expect(how(commandAfter(['serve'], { config: file }), 'udpTarget').give('127.0.0.1:PORT')).toBe(`udp-target = 127.0.0.1:PORT in ${file}`);
  });
});

describe('the advice, keyed by reason', () => {
  it('names flags without a command: the messages of before', () => {
    expect(formatError(inUse(8443))).toBe('qtstatus: cannot listen on 127.0.0.1:8443 (another program uses the port; stop it or pick another --port)');
    const written = new QtError(ErrorCodes.FILE, 'cannot put b in place', { reason: 'partly_written', facts: { written: ['a'] } });
    expect(formatError(written)).toBe('qtstatus: cannot put b in place (a were written; run again with --force)');
    const exists = new QtError(ErrorCodes.FILE, 'a already exists', { reason: 'file_exists', setting: 'force' });
    expect(formatError(exists)).toBe('qtstatus: a already exists (nothing was written; use --force to replace it, or --dir or --name to write elsewhere)');
  });

  it('names the setting the way the serve command was given it', () => {
    const file = join(dir, 'serve3.conf');
    writeFileSync(file, 'port = 8443\n');
    expect(formatError(inUse(8443), commandAfter(['serve'], { port: 8443 }))).toMatch(/pick another --port\)$/);
    expect(formatError(inUse(8443), commandAfter(['serve'], {}, { QTSTATUS_PORT: '8443' }))).toMatch(/pick another QTSTATUS_PORT\)$/);
    expect(formatError(inUse(8443), commandAfter(['serve'], { config: file }))).toMatch(new RegExp(`pick another port in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`));
  });

  it("an error's own hint is used when there is no advice for its reason; advice replaces it", () => {
    const plain = new QtError(ErrorCodes.NETWORK, 'x', { reason: 'target_unresolved', hint: 'use an IP address or a name that resolves' });
    expect(hintFor(plain)).toBe('use an IP address or a name that resolves');
    const both = new QtError(ErrorCodes.NETWORK, 'x', { reason: 'address_in_use', setting: 'port', hint: 'ignored' });
    expect(hintFor(both)).toBe('another program uses the port; stop it or pick another --port');
    expect(hintFor(new QtError(ErrorCodes.NETWORK, 'x'))).toBeUndefined();
  });
});

describe('qtstatus listen on a port another program holds (without address reuse)', () => {
  const sockets: dgram.Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });
  async function taken(): Promise<number> {
    const plain = dgram.createSocket('udp4');
    sockets.push(plain);
    await new Promise<void>((resolve) => plain.bind(0, '127.0.0.1', resolve));
    return plain.address().port;
  }
  const hintOf = (stderr: string) => /share a port|listen on another (.*); several/.exec(stderr)?.[1];

  it('--port: the hint says --port', async () => {
    const port = await taken();
    const r = await runCli(['listen', '--host', '127.0.0.1', '--port', String(port), '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(hintOf(r.stderr)).toBe('--port');
  });

  it('QTSTATUS_LISTEN_PORT: the hint says the variable', async () => {
    const port = await taken();
    const r = await runCli(['listen', '--host', '127.0.0.1', '--timeout', '1s'], { env: { QTSTATUS_LISTEN_PORT: String(port) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`EADDRINUSE: address already in use (another program has UDP port ${port} without address reuse`);
    expect(hintOf(r.stderr)).toBe('QTSTATUS_LISTEN_PORT');
  });

  it('port = P in a config file: the hint names the file', async () => {
    const port = await taken();
    const file = join(dir, 'taken.conf');
    writeFileSync(file, `host = 127.0.0.1\nport = ${port}\n`);
    const r = await runCli(['listen', '--config', file, '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(hintOf(r.stderr)).toBe(`port in ${file}`);
  });
});

describe('the rule: lower layers name no flag, variable or command in a hint', () => {
  const src = join(import.meta.dirname, '../../src');
  const files = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? files(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []));
  it.each(['pki', 'net', 'client', 'server', 'store'])('src/%s', (layer) => {
    const offending = files(join(src, layer)).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
        // The text of every `hint: '…'` (and "…", `…`) on the line.
        .filter(({ line }) => [...line.matchAll(/\bhint:\s*(['"`])((?:\\.|(?!\1).)*)\1/g)].some((m) => /--[a-z]|qtstatus [a-z]|QTSTATUS_/.test(m[2] as string))),
    );
    expect(offending).toEqual([]);
  });
  // Nor in a message: an error about a setting's value is marked `subject` and the CLI names the setting.
  it.each(['pki', 'net', 'client', 'server', 'store'])('src/%s messages', (layer) => {
    const offending = files(join(src, layer)).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
        .filter(({ line }) => [...line.matchAll(/QtError\(ErrorCodes\.[A-Z_]+,\s*(['"`])((?:\\.|(?!\1).)*)\1/g)].some((m) => /(^|[\s(])--[a-z]/.test(m[2] as string))),
    );
    expect(offending).toEqual([]);
  });
});

describe('advice names only options the command has (issue #13)', () => {
  it('certs init suggests no --name, certs p12 --out rather than --dir or its --name', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'qt-hints-')), 'c');
    expect((await runCli(['certs', 'init', '--dir', dir])).code).toBe(0);
    const again = await runCli(['certs', 'init', '--dir', dir]);
    expect(again.stderr).toMatch(/use --force to replace it, or --dir to write elsewhere\)/);
    const env = { P12_PASSWORD: 'x' };
    expect((await runCli(['certs', 'p12', join(dir, 'client.crt'), '--password-env', 'P12_PASSWORD'], { env })).code).toBe(0);
    const p12 = await runCli(['certs', 'p12', join(dir, 'client.crt'), '--password-env', 'P12_PASSWORD'], { env });
    expect(p12.stderr).toMatch(/use --force to replace it, or --out to write elsewhere\)/);
    rmSync(dir, { recursive: true, force: true });
  });
});
