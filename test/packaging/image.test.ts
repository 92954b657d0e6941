// Issue #13: the container image. Containers cannot be started on the CI
// machines (the runtime is refused setting resource limits), so the test
// builds the image with scripts/build-image.ts (buildah, FROM scratch),
// reads its oci-archive (index, manifest, config, layers), unpacks its
// filesystem and runs the executable from it with chroot, as the image's
// user (10001): --version, certs init, users add into the volume, serve with
// the image's own configuration file, and a PATCH end to end with its status
// packet, which goes to loopback only. Also: packaging/compose.yaml runs
// that image with PostgreSQL, with settings the program has.
//
// Needs buildah (apt-get install buildah) and root (chroot); skipped with a
// message otherwise.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { request } from '../helpers/https.ts';

const root = join(import.meta.dirname, '../..');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = process.getuid?.() === 0;
const chroot = ['/usr/sbin/chroot', '/sbin/chroot', '/usr/bin/chroot'].find((c) => existsSync(c));
const canBuild = has('buildah') && isRoot && chroot !== undefined;
if (!canBuild) console.warn(`${has('buildah') ? 'not root' : 'buildah is missing (apt-get install buildah)'}: the container image tests are skipped`);

const work = mkdtempSync(join(tmpdir(), 'qt-image-'));
const rootfs = join(work, 'rootfs');
const children: ChildProcess[] = [];
let archive = '';
let config: {
  architecture: string;
  os: string;
  config: { User: string; Entrypoint: string[]; Cmd: string[]; Volumes: Record<string, object>; ExposedPorts: Record<string, object>; WorkingDir: string; Env: string[]; Labels: Record<string, string> };
};
let refName = '';
let layerCount = 0;

const blob = (oci: string, digest: string) => join(oci, 'blobs', ...digest.split(':'));

beforeAll(async () => {
  if (!canBuild) return;
  archive = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/build-image.ts'), '--out', work], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1) as string) : reject(new Error(`build-image exited ${code}: ${err}`))));
  });
  // The archive, as a registry or `podman load` reads it.
  const oci = join(work, 'oci');
  mkdirSync(oci);
  execFileSync('tar', ['-xf', archive, '-C', oci]);
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
  refName = index.manifests[0].annotations['org.opencontainers.image.ref.name'];
  const manifest = JSON.parse(readFileSync(blob(oci, index.manifests[0].digest), 'utf8'));
  config = JSON.parse(readFileSync(blob(oci, manifest.config.digest), 'utf8'));
  layerCount = manifest.layers.length;
  mkdirSync(rootfs);
  for (const layer of manifest.layers) execFileSync('tar', ['-xf', blob(oci, layer.digest), '-C', rootfs, '--same-owner', '--same-permissions']);
  rmSync(oci, { recursive: true, force: true });
}, 300_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** argv run in the image's filesystem as its user, with the image's environment (and loopback only). */
function inImage(args: string[]): string[] {
  return [chroot as string, `--userspec=${config.config.User}`, rootfs, ...config.config.Entrypoint, ...args];
}
const imageEnv = () => ({ ...Object.fromEntries(config.config.Env.map((e) => e.split(/=(.*)/s).slice(0, 2))), QTSTATUS_LOOPBACK_ONLY: '1', NO_COLOR: '1' });
function run(args: string[]) {
  const [cmd, ...rest] = inImage(args);
  return spawnSync(cmd as string, rest, { env: imageEnv(), encoding: 'utf8', timeout: 30_000, cwd: '/' });
}

describe.skipIf(!canBuild)('the image', () => {
  it('is an oci-archive named localhost/qtstatus:VERSION, with the non-root user, the volume, the entrypoint', () => {
    expect(archive).toBe(join(work, `qtstatus_${pkg.version}_oci.tar`));
    expect(refName).toBe(`localhost/qtstatus:${pkg.version}`);
    expect(config.os).toBe('linux');
    expect(config.architecture).toBe('amd64');
    expect(config.config.User).toBe('10001:10001');
    expect(Object.keys(config.config.Volumes)).toEqual(['/var/lib/qtstatus']);
    expect(config.config.Entrypoint).toEqual(['/usr/bin/qtstatus']);
    expect(config.config.Cmd).toEqual(['serve', '--config', '/etc/qtstatus/serve.conf']);
    expect(Object.keys(config.config.ExposedPorts)).toEqual(['8443/tcp']);
    expect(config.config.WorkingDir).toBe('/var/lib/qtstatus');
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'qtstatus',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.licenses': 'MIT',
    });
    expect(layerCount).toBe(1);
  });

  it('holds the executable, its shared libraries and a few files: no shell, nothing else', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(`/${relative(rootfs, p)}`);
      }
    };
    walk(rootfs);
    const libs = files.filter((f) => /\.so(\.\d+)*$/.test(f));
    expect(files.filter((f) => !libs.includes(f)).sort()).toEqual(['/etc/group', '/etc/nsswitch.conf', '/etc/passwd', '/etc/qtstatus/serve.conf', '/usr/bin/qtstatus']);
    expect(libs.map((l) => l.split('/').at(-1)).sort()).toEqual(expect.arrayContaining(['ld-linux-x86-64.so.2', 'libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1']));
    expect(existsSync(join(rootfs, 'bin/sh'))).toBe(false);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^qtstatus:x:10001:10001:qtstatus:\/var\/lib\/qtstatus:/m);
    const state = statSync(join(rootfs, 'var/lib/qtstatus'));
    expect([state.uid, state.gid, state.mode & 0o7777]).toEqual([10001, 10001, 0o750]);
    expect(lstatSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    const conf = readFileSync(join(rootfs, 'etc/qtstatus/serve.conf'), 'utf8');
    expect(conf.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['cert = /etc/qtstatus/server.crt', 'key = /etc/qtstatus/server.key', 'ca = /etc/qtstatus/ca.crt', 'db = /var/lib/qtstatus/qtstatus.db']);
  });

  it('runs from its filesystem alone, as uid 10001: --version, certs init, users add into the volume', () => {
    const v = run(['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    const init = run(['certs', 'init', '--dir', '/tmp/c', '--key-type', 'ecdsa-p256']);
    expect(init.status, init.stderr).toBe(0);
    expect(statSync(join(rootfs, 'tmp/c/client.key')).uid).toBe(10001);
    const add = run(['users', 'add', 'valid_user@qt-test.com', '--db', '/var/lib/qtstatus/qtstatus.db']);
    expect(add.status, add.stderr).toBe(0);
    expect(statSync(join(rootfs, 'var/lib/qtstatus/qtstatus.db')).uid).toBe(10001);
  });

  it("serves with the image's configuration file: a PATCH end to end, its packet, SIGTERM", async () => {
    const udp = dgram.createSocket('udp4');
    const packets: Buffer[] = [];
    udp.on('message', (m) => packets.push(m));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    // The image's command, with what a container would get from its environment given as flags.
    const [cmd, ...rest] = inImage([...config.config.Cmd, '--host', '127.0.0.1', '--port', '0', '--cert', '/tmp/c/server.crt', '--key', '/tmp/c/server.key', '--ca', '/tmp/c/ca.crt', '--udp-source-port', '0', '--udp-target', `127.0.0.1:${(udp.address() as AddressInfo).port}`]);
    const server = spawn(cmd as string, rest, { env: imageEnv(), stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    children.push(server);
    let stderr = '';
    server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    server.stdout.resume();
    try {
      const port = await new Promise<string>((resolve, reject) => {
        const t = setInterval(() => {
          const m = /serving https:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m) resolve((clearInterval(t), m[1] as string));
        }, 20);
        setTimeout(() => (clearInterval(t), reject(new Error(`the server did not start: ${stderr}`))), 15_000);
        server.on('close', (code) => reject(new Error(`the server exited ${code}: ${stderr}`)));
      });
      expect(stderr).toContain('/var/lib/qtstatus/qtstatus.db'); // the store from the image's file
      const c = join(rootfs, 'tmp/c');
      const r = await request(`https://localhost:${port}/api/client`, { ca: join(c, 'ca.crt'), cert: join(c, 'client.crt'), key: join(c, 'client.key') });
      expect(r.status, r.body).toBe(204);
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => packets.length && (clearInterval(t), resolve()), 20);
        setTimeout(() => (clearInterval(t), reject(new Error('no status packet'))), 5000);
      });
      expect(packets[0]?.toString('latin1')).toContain('valid_user@qt-test.com');
      server.kill('SIGTERM');
      const code = await new Promise((res) => (server.exitCode !== null ? res(server.exitCode) : server.on('close', res)));
      expect(code, stderr).toBe(0);
      const listed = run(['users', 'list', '--json', '--db', '/var/lib/qtstatus/qtstatus.db']).stdout.trim();
      // A JSON array, or one JSON object a line.
      const users = listed.startsWith('[') ? JSON.parse(listed) : listed.split('\n').map((l) => JSON.parse(l));
      expect(users[0]).toMatchObject({ email: 'valid_user@qt-test.com', ip: '127.0.0.1', port: r.localPort });
    } finally {
      udp.close();
    }
  });
});

describe('packaging/compose.yaml', () => {
  const text = readFileSync(join(root, 'packaging/compose.yaml'), 'utf8');
  const yaml = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: text, encoding: 'utf8' });

  it.skipIf(yaml.status !== 0)('runs the image with PostgreSQL 16, with settings qtstatus has', async () => {
    const compose = JSON.parse(yaml.stdout);
    const { qtstatus, db } = compose.services;
    expect(db.image).toMatch(/postgres:16$/);
    expect(db.healthcheck.test).toContain('pg_isready');
    expect(qtstatus.image).toBe('localhost/qtstatus:${QTSTATUS_VERSION:-0.1.0}'.replace('0.1.0', pkg.version));
    expect(qtstatus.depends_on.db.condition).toBe('service_healthy');
    expect(qtstatus.environment.QTSTATUS_DB).toMatch(/^postgres:\/\/qtstatus@/);
    expect(qtstatus.read_only).toBe(true);
    expect(qtstatus.cap_drop).toEqual(['ALL']);
    // Every QTSTATUS_ variable it sets is one of `serve`'s.
    const { buildProgram } = await import('../../src/cli/main.ts');
    const serve = buildProgram().commands.find((c) => c.name() === 'serve');
    const known = new Set(serve?.options.map((o) => o.envVar));
    for (const name of Object.keys(qtstatus.environment).filter((n) => n.startsWith('QTSTATUS_'))) expect(known.has(name), name).toBe(true);
    // It mounts what the image's serve.conf reads, and the image's volume.
    const targets = qtstatus.volumes.map((v: string) => v.split(':')[1]);
    expect(targets).toEqual(expect.arrayContaining(['/etc/qtstatus/server.crt', '/etc/qtstatus/server.key', '/etc/qtstatus/ca.crt', '/var/lib/qtstatus']));
  });
});
