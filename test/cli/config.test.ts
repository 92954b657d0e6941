// Issue #13: every option from the environment too, and --config FILE;
// defaults < file < environment < flags.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { buildProgram } from '../../src/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Where `listen` says it listens, given a config file, an environment and flags. */
async function listensOn(config: string | undefined, env: Record<string, string>, flags: string[]): Promise<string> {
  const args = ['listen', '--host', '127.0.0.1', '--count', '1', '--timeout', '200ms'];
  if (config !== undefined) {
    const file = join(dir, `listen-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(file, config);
    args.push('--config', file);
  }
  const p = new CliProcess([...args, ...flags], { env });
  const m = await p.waitFor('stderr', /listening on 127\.0\.0\.1:(\d+)/);
  await p.done();
  return m[1] as string;
}

describe('settings from a file and the environment', () => {
  it('takes the file, then the environment over it, then flags over both', async () => {
    expect(await listensOn('# a comment\nport = 47311\n', {}, [])).toBe('47311');
    expect(await listensOn('port = 47311\n', { QTSTATUS_LISTEN_PORT: '47312' }, [])).toBe('47312');
    expect(await listensOn('port = 47311\n', { QTSTATUS_LISTEN_PORT: '47312' }, ['--port', '47313'])).toBe('47313');
    expect(await listensOn(undefined, { QTSTATUS_LISTEN_PORT: '47314' }, [])).toBe('47314');
  });

  it('refuses an unknown setting or a bad value, naming the file and line', async () => {
    const file = join(dir, 'bad.conf');
    writeFileSync(file, 'host = 127.0.0.1\nprot = 6667\n');
    const unknown = await runCli(['listen', '--config', file, '--timeout', '100ms']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bad\.conf line 2: "prot" is not a setting of qtstatus listen/);
    writeFileSync(file, 'port = lots\n');
    const bad = await runCli(['listen', '--config', file, '--timeout', '100ms']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.conf line 1: port: "lots" is not a port/);
    const missing = await runCli(['listen', '--config', join(dir, 'nowhere.conf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the config file .*nowhere\.conf/);
  });

  it('names a variable for every option, shown in --help: short for serve, with the command for the others', () => {
    const program = buildProgram();
    const names = new Map<string, string>();
    const visit = (cmd: ReturnType<typeof buildProgram>, path: string[]) => {
      for (const o of cmd.options) if (o.envVar) names.set([...path, o.long].join(' '), o.envVar);
      for (const c of cmd.commands) visit(c, [...path, c.name()]);
    };
    visit(program, []);
    expect(names.get('serve --port')).toBe('QTSTATUS_PORT');
    expect(names.get('serve --udp-target')).toBe('QTSTATUS_UDP_TARGET');
    expect(names.get('serve --db')).toBe('QTSTATUS_DB');
    expect(names.get('listen --port')).toBe('QTSTATUS_LISTEN_PORT');
    expect(new Set(names.values()).size).toBeGreaterThan(20);
    // One name means one option, or the same --db everywhere.
    const byName = new Map<string, string[]>();
    for (const [opt, env] of names) byName.set(env, [...(byName.get(env) ?? []), opt]);
    for (const [env, opts] of byName) if (opts.length > 1) expect(env, opts.join(', ')).toBe('QTSTATUS_DB');
  });

  it('reads a list from one variable, comma-separated', async () => {
    const program = buildProgram();
    const serve = program.commands.find((c) => c.name() === 'serve');
    const parse = serve?.options.find((o) => o.long === '--udp-target')?.parseArg;
    expect(parse?.('127.0.0.1:6667, [::1]:6668', undefined as never)).toEqual([
      { host: '127.0.0.1', port: 6667 },
      { host: '::1', port: 6668 },
    ]);
  });
});
