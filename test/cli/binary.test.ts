// The standalone executable (issue #6): built from the sources, copied alone
// into an empty directory and run with a PATH that has no node, and no
// node_modules anywhere near it.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { request } from '../helpers/https.ts';

let dir: string;
let exe: string;
let env: NodeJS.ProcessEnv;
const children: Array<ReturnType<typeof spawn>> = [];

beforeAll(() => {
  execFileSync(process.execPath, [join(import.meta.dirname, '../../scripts/build-binary.ts')], { stdio: 'pipe' });
  dir = mkdtempSync(join(tmpdir(), 'qt-exe-'));
  exe = join(dir, 'qtstatus');
  copyFileSync(join(import.meta.dirname, '../../dist/qtstatus'), exe);
  execFileSync('chmod', ['755', exe]);
  const emptyBin = mkdtempSync(join(tmpdir(), 'qt-nopath-'));
  env = { PATH: emptyBin, HOME: dir, QTSTATUS_LOOPBACK_ONLY: '1', NO_COLOR: '1' };
}, 120_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(exe, args, { cwd: dir, env: { ...env, ...extraEnv }, stdio: 'pipe' }).toString();
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: Buffer; stderr: Buffer };
    return { code: e.status, stdout: e.stdout.toString(), stderr: e.stderr.toString() };
  }
}

function start(args: string[]): { child: ReturnType<typeof spawn>; stderr: () => string; stdout: () => string } {
  const child = spawn(exe, args, { cwd: dir, env });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err, stdout: () => out };
}

async function until<T>(get: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('dist/qtstatus, alone, without node', () => {
  it('has no node on its PATH', () => {
    expect(existsSync(join(env.PATH as string, 'node'))).toBe(false);
  });

  it('prints its baked-in version, and ignores NODE_OPTIONS', () => {
    expect(run(['--version']).stdout.trim()).toBe(pkg.version);
    const r = run(['--version'], { NODE_OPTIONS: '--require /nonexistent/preload.js' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('runs the whole loop: certs init, users add, serve, listen, a request', async () => {
    expect(run(['certs', 'init']).code).toBe(0);
    expect(existsSync(join(dir, 'certs', 'client.key'))).toBe(true);
    expect(run(['users', 'add', 'valid_user@qt-test.com']).code).toBe(0);

    const listener = start(['listen', '--host', '127.0.0.1', '--port', '0', '--count', '1', '--json']);
    const udpPort = await until(() => /listening on 127\.0\.0\.1:(\d+)/.exec(listener.stderr())?.[1], 'the listener');
    const server = start(['serve', '--host', '127.0.0.1', '--port', '0', '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`]);
    const port = await until(() => /serving https:\/\/127\.0\.0\.1:(\d+)/.exec(server.stderr())?.[1], `the server (${server.stderr()})`);

    const certs = join(dir, 'certs');
    const r = await request(`https://localhost:${port}/api/client`, { ca: join(certs, 'ca.crt'), cert: join(certs, 'client.crt'), key: join(certs, 'client.key') });
    expect(r.status).toBe(204);
    const line = await until(() => listener.stdout().split('\n')[0] || undefined, 'the packet');
    expect(JSON.parse(line)).toMatchObject({ type: 'status', email: 'valid_user@qt-test.com', port: r.localPort });

    server.child.kill('SIGTERM');
    const code = await new Promise((res) => server.child.on('close', res));
    expect(code).toBe(0);
    const users = run(['users', 'list', '--json']).stdout.trim().split('\n').map((l: string) => JSON.parse(l)); // one object a line
    expect(users[0]).toMatchObject({ email: 'valid_user@qt-test.com', ip: '127.0.0.1', port: r.localPort });
    expect(readFileSync(join(certs, 'ca.crt'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  });
});
