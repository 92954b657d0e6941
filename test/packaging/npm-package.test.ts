// Issue #13: `npm pack` gives a package that `npm install -g` installs and
// that runs on Node 24 and Node 26, with only what runs at run time; an older
// Node gets a clear message. Real npm, real installs into a temp prefix, the
// real Node 24 from the npm registry's `node` package.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'qt-npm-'));
const node26 = dirname(process.execPath); // the pinned Node vitest runs on
const npm = (args: string[], cwd = root, env: NodeJS.ProcessEnv = {}) =>
  execFileSync('npm', args, { cwd, env: { ...process.env, PATH: `${node26}${delimiter}${process.env.PATH}`, npm_config_fund: 'false', npm_config_audit: 'false', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

let files: string[] = [];
let prefix: string;
let node24: string | undefined;

beforeAll(() => {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work]))[0];
  files = packed.files.map((f: { path: string }) => f.path);
  prefix = join(work, 'prefix');
  npm(['install', '--global', '--prefix', prefix, '--offline', join(work, packed.filename)]);
  try {
    npm(['install', '--prefix', join(work, 'n24'), '--no-save', 'node@24'], work);
    node24 = join(work, 'n24', 'node_modules', '.bin');
  } catch {
    node24 = undefined; // no registry: the Node 24 run is skipped below
  }
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The installed command through npm's shim, with `nodeDir` first on PATH. */
function installed(nodeDir: string, args: string[]) {
  return spawnSync(join(prefix, 'bin', 'qtstatus'), args, {
    cwd: work,
    env: { ...process.env, PATH: `${nodeDir}${delimiter}/usr/bin${delimiter}/bin`, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('the npm package', () => {
  it('holds what runs and nothing of the development tree', () => {
    expect(files).toEqual(expect.arrayContaining(['bin/qtstatus', 'dist/qtstatus.cjs', 'package.json', 'README.md']));
    expect(files.filter((f) => /^(test|bench|src|scripts|\.ci)\//.test(f) || f.endsWith('.ts'))).toEqual([]);
  });

  it.each([
    ['Node 26', () => node26],
    ['Node 24', () => node24],
  ])('installs with npm install -g and runs on %s', (_name, dir) => {
    const nodeDir = dir();
    if (nodeDir === undefined || !existsSync(join(nodeDir, 'node'))) return void console.warn('Node 24 could not be installed from the npm registry: skipped');
    expect(spawnSync(join(nodeDir, 'node'), ['--version'], { encoding: 'utf8' }).stdout).toMatch(_name === 'Node 24' ? /^v24\./ : /^v26\./);
    const v = installed(nodeDir, ['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const certs = join(work, `certs-${_name.replace(' ', '')}`);
    const init = installed(nodeDir, ['certs', 'init', '--dir', certs, '--key-type', 'ecdsa-p256']);
    expect(init.status, init.stderr).toBe(0);
    expect(existsSync(join(certs, 'client.crt'))).toBe(true);
    const help = installed(nodeDir, ['serve', '--help']);
    expect(help.stdout).toContain('--udp-target');
  });

  it('tells an older Node to step aside, with exit 1', () => {
    const old = spawnSync('/usr/bin/env', ['bash', '-c', 'command -v node'], { env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, encoding: 'utf8' }).stdout.trim();
    const version = old ? spawnSync(old, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
    if (!/^v(1\d|2[0-3])\./.test(version)) return void console.warn(`no Node older than 24 on this machine (${version || 'none'}): skipped`);
    const r = installed(dirname(old), ['--version']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Node\.js .* is too old: qtstatus needs Node\.js 24 or later/);
  });
});
