// Issue #13: the Debian package. scripts/build-deb.ts builds it (twice: a
// second revision for the upgrade); then: what it holds, with which modes,
// owners and conffiles; lintian finds neither error nor warning;
// systemd-analyze verifies the units and rates their hardening; the unit's
// command line serves on a socket passed as systemd passes it (socket
// activation), reloads on SIGHUP and drains on SIGTERM; and, as root on a
// machine without qtstatus installed, a real dpkg install, upgrade, remove
// and purge, checking what each leaves behind.
//
// Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev); lintian and systemd
// (systemd-analyze, systemd-socket-activate) for their parts. What is
// missing is skipped with a message. Packets go to loopback only.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { request } from '../helpers/https.ts';

const root = join(import.meta.dirname, '../..');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canBuild = has('dpkg-deb') && has('dpkg-shlibdeps');
if (!canBuild) console.warn('dpkg-deb or dpkg-shlibdeps is missing (apt-get install dpkg-dev): the Debian package tests are skipped');

const work = mkdtempSync(join(tmpdir(), 'qt-deb-'));
const v1 = `${pkg.version}-1`;
const v2 = `${pkg.version}-2`;
const debs: Record<string, string> = {};
const tree = join(work, 'tree');
const children: ChildProcess[] = [];

/** `node scripts/build-deb.ts`, as `npm run build:deb` runs it; gzip, which is faster than xz and checks the same. */
function build(version: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/build-deb.ts'), '--out', work, '--version', version, '--compress', 'gzip'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1) as string) : reject(new Error(`build-deb ${version} exited ${code}: ${err}`))));
  });
}

beforeAll(async () => {
  if (!canBuild) return;
  const [a, b] = await Promise.all([build(v1), build(v2)]);
  debs[v1] = a;
  debs[v2] = b;
  execFileSync('dpkg-deb', ['-x', a, tree]);
}, 300_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const sh = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, timeout: 120_000 });

describe.skipIf(!canBuild)('the .deb', () => {
  it('is named and described as Debian expects, with the libraries dpkg-shlibdeps found', () => {
    expect(debs[v1]).toBe(join(work, `qtstatus_${v1}_amd64.deb`));
    const field = (f: string) => execFileSync('dpkg-deb', ['-f', debs[v1] as string, f], { encoding: 'utf8' }).trim();
    expect(field('Package')).toBe('qtstatus');
    expect(field('Version')).toBe(v1);
    expect(field('Architecture')).toBe('amd64');
    expect(field('Depends')).toMatch(/^adduser, .*libc6 \(>= 2\.\d+\).*libstdc\+\+6 \(>= [\d.]+\)/);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(100_000); // KiB: the executable is ~113 MB
    expect(field('Description')).toMatch(/^verified user status over mutual TLS\n/);
  });

  it('holds the executable, units, configuration, manual pages and completions, owned by root', () => {
    const listing = execFileSync('dpkg-deb', ['-c', debs[v1] as string], { encoding: 'utf8' });
    const entries = new Map(
      listing
        .trim()
        .split('\n')
        .map((l) => {
          const [mode, owner, , , , path] = l.split(/\s+/);
          return [(path as string).replace(/^\.\//, '/').replace(/\/$/, '') || '/', { mode, owner }] as const;
        }),
    );
    for (const [path, e] of entries) expect(e.owner, path).toBe('root/root');
    const expectFile = (path: string, mode: string) => expect(entries.get(path)?.mode, path).toBe(mode);
    expectFile('/usr/bin/qtstatus', '-rwxr-xr-x');
    for (const unit of ['qtstatus.service', 'qtstatus.socket', 'qtstatus-listen.service']) expectFile(`/lib/systemd/system/${unit}`, '-rw-r--r--');
    expectFile('/etc/qtstatus/serve.conf', '-rw-r--r--');
    expectFile('/etc/qtstatus/listen.conf', '-rw-r--r--');
    expectFile('/usr/share/man/man1/qtstatus.1.gz', '-rw-r--r--');
    expectFile('/usr/share/man/man1/qtstatus-serve.1.gz', '-rw-r--r--');
    expectFile('/usr/share/man/man1/qtstatus-certs-init.1.gz', '-rw-r--r--');
    expectFile('/usr/share/bash-completion/completions/qtstatus', '-rw-r--r--');
    expectFile('/usr/share/zsh/vendor-completions/_qtstatus', '-rw-r--r--');
    expectFile('/usr/share/fish/vendor_completions.d/qtstatus.fish', '-rw-r--r--');
    expectFile('/usr/share/doc/qtstatus/copyright', '-rw-r--r--');
    expectFile('/usr/share/doc/qtstatus/changelog.Debian.gz', '-rw-r--r--');
    expectFile('/usr/share/lintian/overrides/qtstatus', '-rw-r--r--');
    for (const [path, e] of entries) if (e.mode?.startsWith('d')) expect(e.mode, path).toBe('drwxr-xr-x');
    // Made by postinst, owned by the qtstatus user: not in the archive.
    expect(entries.has('/var/lib/qtstatus')).toBe(false);
  });

  it('declares the configuration files conffiles, and has maintainer scripts that parse', () => {
    const control = join(work, 'control');
    execFileSync('dpkg-deb', ['-e', debs[v1] as string, control]);
    expect(readFileSync(join(control, 'conffiles'), 'utf8')).toBe('/etc/qtstatus/listen.conf\n/etc/qtstatus/serve.conf\n');
    for (const s of ['postinst', 'prerm', 'postrm']) {
      expect(statSync(join(control, s)).mode & 0o777, s).toBe(0o755);
      expect(sh('sh', ['-n', join(control, s)]).status, s).toBe(0);
    }
    // md5sums covers every file but the conffiles, and matches.
    const sums = readFileSync(join(control, 'md5sums'), 'utf8').trim().split('\n');
    expect(sums.some((l) => l.endsWith('  usr/bin/qtstatus'))).toBe(true);
    expect(sums.some((l) => l.includes(' etc/'))).toBe(false);
  });

  it('has an executable that runs alone, and configuration files `--config` reads', async () => {
    const exe = join(tree, 'usr/bin/qtstatus');
    const env = { PATH: '/usr/bin:/bin', HOME: work, NO_COLOR: '1', QTSTATUS_LOOPBACK_ONLY: '1' };
    expect(execFileSync(exe, ['--version'], { env, encoding: 'utf8' }).trim()).toBe(pkg.version);
    // The files say the absolute paths, and every other setting with its default, commented out.
    const serveConf = readFileSync(join(tree, 'etc/qtstatus/serve.conf'), 'utf8');
    const set = serveConf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(set).toEqual(['cert = /etc/qtstatus/server.crt', 'key = /etc/qtstatus/server.key', 'ca = /etc/qtstatus/ca.crt', 'db = /var/lib/qtstatus/qtstatus.db']);
    expect(serveConf).toContain('#port = 8443');
    expect(serveConf).toContain('#udp-target = 255.255.255.255:6667');
    expect(serveConf).toContain('#grace = 10s');
    expect(readFileSync(join(tree, 'etc/qtstatus/listen.conf'), 'utf8')).toContain('#port = 6667');
    // serve reads it: with the certificates missing it names the file from the config
    // (not where this machine has them: it would serve).
    if (!existsSync('/etc/qtstatus/server.crt')) {
      const r = spawnSync(exe, ['serve', '--config', join(tree, 'etc/qtstatus/serve.conf'), '--host', '127.0.0.1', '--port', '0', '--udp-target', '127.0.0.1:9'], { env, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('/etc/qtstatus/server');
    }
    // Completions and manual pages are the executable's own.
    expect(readFileSync(join(tree, 'usr/share/bash-completion/completions/qtstatus'), 'utf8')).toBe(execFileSync(exe, ['completion', 'bash'], { env, encoding: 'utf8' }));
    const page = gunzipSync(readFileSync(join(tree, 'usr/share/man/man1/qtstatus-serve.1.gz'))).toString();
    expect(page).toMatch(/^\.TH QTSTATUS\\-SERVE 1 /m);
    // md5sums matches the files.
    expect(sh('sh', ['-c', `cd '${tree}' && md5sum --check --quiet '${join(work, 'control', 'md5sums')}'`]).status).toBe(0);
  });

  it.skipIf(!has('lintian'))('gives lintian neither an error nor a warning', () => {
    const r = sh('lintian', ['--pedantic', '--display-level', '>=pedantic', debs[v1] as string]);
    const tags = r.stdout.split('\n').filter((l) => /^[EWX]:/.test(l));
    expect(tags, r.stdout + r.stderr).toEqual([]);
    expect(r.stdout.split('\n').filter((l) => /^[IP]:/.test(l)), 'info and pedantic tags').toEqual([]);
  }, 180_000);

  it.skipIf(!has('systemd-analyze'))('has units systemd-analyze verifies, hardened (exposure under 2 of 10)', () => {
    // A root with the package and the system's own units (targets), as systemd would see it installed.
    const sysroot = join(work, 'sysroot');
    execFileSync('cp', ['-a', `${tree}/.`, sysroot]);
    mkdirSync(join(sysroot, 'usr/lib/systemd'), { recursive: true });
    mkdirSync(join(sysroot, 'bin'), { recursive: true });
    execFileSync('cp', ['-a', '/lib/systemd/system', join(sysroot, 'usr/lib/systemd/')]);
    execFileSync('cp', [['/bin/kill', '/usr/bin/kill'].find((k) => existsSync(k)) as string, join(sysroot, 'bin/kill')]);
    const units = ['qtstatus.socket', 'qtstatus.service', 'qtstatus-listen.service'].map((u) => `/lib/systemd/system/${u}`);
    const r = sh('systemd-analyze', ['verify', `--root=${sysroot}`, '--man=no', ...units]);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    for (const unit of ['qtstatus.service', 'qtstatus-listen.service']) {
      const s = sh('systemd-analyze', ['security', '--offline=yes', `--root=${sysroot}`, '--threshold=20', `/lib/systemd/system/${unit}`]);
      expect(s.status, s.stdout).toBe(0);
      expect(s.stdout).toMatch(/Overall exposure level for .*: 1\.\d OK/);
    }
    const service = readFileSync(join(tree, 'lib/systemd/system/qtstatus.service'), 'utf8');
    expect(service).toMatch(/^NoNewPrivileges=yes$/m);
    expect(service).toMatch(/^ProtectSystem=strict$/m);
    expect(service).toMatch(/^CapabilityBoundingSet=$/m); // none: the socket holds port 443
    expect(service).toMatch(/^User=qtstatus$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/bin\/qtstatus serve --config \/etc\/qtstatus\/serve\.conf$/m);
    expect(service).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(readFileSync(join(tree, 'lib/systemd/system/qtstatus.socket'), 'utf8')).toMatch(/^ListenStream=443$/m);
  });

  it.skipIf(!has('systemd-socket-activate'))(
    "serves on the socket systemd passes (fd 3), in the unit's sandbox as far as it can be built here; SIGHUP reloads, SIGTERM drains",
    async () => {
      const exe = join(tree, 'usr/bin/qtstatus');
      const dir = join(work, 'activation');
      const env = { PATH: '/usr/bin:/bin', HOME: dir, NO_COLOR: '1', QTSTATUS_LOOPBACK_ONLY: '1' };
      mkdirSync(join(dir, 'state'), { recursive: true });
      execFileSync(exe, ['certs', 'init', '--dir', join(dir, 'certs'), '--key-type', 'ecdsa-p256'], { env, stdio: 'pipe' });
      execFileSync(exe, ['users', 'add', 'valid_user@qt-test.com', '--db', join(dir, 'state/qtstatus.db')], { env, stdio: 'pipe' });
      const sandbox = sandboxArgv(dir);
      const udp = dgram.createSocket('udp4');
      const packets: Buffer[] = [];
      udp.on('message', (m) => packets.push(m));
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
      const port = await new Promise<number>((resolve) => {
        const srv = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as net.AddressInfo).port;
          srv.close(() => resolve(p));
        });
      });
      // The unit's command line, with what differs here as flags (they win over the file).
      const c = join(dir, 'certs');
      const child = spawn(
        'systemd-socket-activate',
        ['-l', `127.0.0.1:${port}`, '-E', 'QTSTATUS_LOOPBACK_ONLY=1', '-E', 'NO_COLOR=1', '-E', `HOME=${dir}`,
          ...sandbox.argv, exe, 'serve', '--config', join(tree, 'etc/qtstatus/serve.conf'),
          '--cert', join(c, 'server.crt'), '--key', join(c, 'server.key'), '--ca', join(c, 'ca.crt'), '--db', join(dir, 'state/qtstatus.db'),
          '--udp-source-port', '0', '--udp-target', `127.0.0.1:${(udp.address() as net.AddressInfo).port}`],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      const until = (what: string, ok: () => boolean, ms = 10_000) =>
        new Promise<void>((resolve, reject) => {
          const t = setInterval(() => ok() && (clearInterval(t), resolve()), 20);
          setTimeout(() => (clearInterval(t), reject(new Error(`${what}: ${stderr}`))), ms);
        });
      try {
        await until('no socket', () => stderr.includes('Listening on'));
        // The first connection starts the server (systemd-socket-activate waits for one); it waits in the backlog meanwhile.
        const ping = () =>
          request(`https://localhost:${port}/api/client`, { ca: join(c, 'ca.crt'), cert: join(c, 'client.crt'), key: join(c, 'client.key') }).catch((err: Error) => {
            throw new Error(`${err.message}; the server said: ${stderr}`);
          });
        const r = await ping();
        expect(r.status, stderr).toBe(204);
        expect(stderr).toMatch(/serving https:/);
        expect(stderr).not.toMatch(/SANDBOX/);
        await until('no packet', () => packets.length > 0, 5000);
        expect(packets[0]?.toString('latin1')).toContain('valid_user@qt-test.com');
        child.kill('SIGHUP');
        await until('no reload', () => /SIGHUP: reloaded/.test(stderr), 5000);
        expect((await ping()).status).toBe(204);
        child.kill('SIGTERM');
        const code = await new Promise((res) => (child.exitCode !== null ? res(child.exitCode) : child.on('close', res)));
        expect(code, stderr).toBe(0);
        expect(stderr).toMatch(/SIGTERM: finishing requests in flight/);
        if (!sandbox.parts.length) console.warn('not root: socket activation tested without the sandbox');
        else console.info(`socket activation tested in a sandbox of: ${sandbox.parts.join(', ')}`);
      } finally {
        udp.close();
      }
    },
  );
});

/**
 * As root: what systemd would do for qtstatus.service, with util-linux
 * instead of systemd (which does not run here): a mount namespace where
 * everything is read-only but the state directory (ProtectSystem=strict,
 * StateDirectory=), /proc with only processes, others' hidden
 * (ProcSubset=pid, ProtectProc=invisible), an unprivileged user with no
 * capability and no new privileges, and, when Python's libseccomp binding is
 * there (python3-seccomp), the unit's own SystemCallFilter= with
 * SystemCallErrorNumber=EPERM. Every step execs, so the process keeps the
 * PID systemd-socket-activate gave it, and fd 3.
 */
function sandboxArgv(dir: string): { argv: string[]; parts: string[] } {
  if (process.getuid?.() !== 0 || !has('unshare') || !has('setpriv') || !has('findmnt')) return { argv: [], parts: [] };
  const parts = ['a read-only system', 'a writable state directory', '/proc with subset=pid,hidepid=invisible', 'user nobody without capabilities, no new privileges'];
  const nobody = 65534;
  chmodSync(work, 0o755); // the package tree, the scripts: readable by nobody
  execFileSync('chown', ['-R', `${nobody}:${nobody}`, dir]);
  let filter = '';
  const python = '/usr/bin/python3';
  if (existsSync(python) && sh(python, ['-c', 'import seccomp']).status === 0 && has('systemd-analyze')) {
    // The unit's filter: its allow list, less its ~ lines, as systemd-analyze expands the groups.
    const unit = readFileSync(join(tree, 'lib/systemd/system/qtstatus.service'), 'utf8');
    const lines = [...unit.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => m[1] as string);
    const expand = (name: string): string[] =>
      name.startsWith('@')
        ? sh('systemd-analyze', ['syscall-filter', name]).stdout.split('\n').slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).flatMap(expand)
        : [name];
    const allow = new Set(lines.filter((l) => !l.startsWith('~')).flatMap((l) => l.split(/\s+/)).flatMap(expand));
    for (const name of lines.filter((l) => l.startsWith('~')).flatMap((l) => l.slice(1).split(/\s+/)).flatMap(expand)) allow.delete(name);
    expect(allow.size).toBeGreaterThan(200);
    writeFileSync(join(work, 'syscalls'), [...allow].join('\n'));
    writeFileSync(
      join(work, 'syscall-filter.py'),
      `import errno, os, sys, seccomp
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
for name in open(sys.argv[1]).read().split():
    try:
        f.add_rule(seccomp.ALLOW, name)
    except Exception:
        pass  # not a system call of this architecture
f.load()
os.execv(sys.argv[2], sys.argv[2:])
`,
    );
    filter = `${python} ${join(work, 'syscall-filter.py')} ${join(work, 'syscalls')}`;
    parts.push(`the unit's SystemCallFilter (${allow.size} system calls)`);
  } else {
    console.warn("python3-seccomp is missing: the unit's system call filter is not applied");
  }
  const state = join(dir, 'state');
  writeFileSync(
    join(work, 'sandbox.sh'),
    `set -e
findmnt -rno TARGET | while read -r m; do
  case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) ;; *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;; esac
done
mount -t proc -o subset=pid,hidepid=invisible proc /proc
mount --bind '${state}' '${state}'
mount -o remount,bind,rw '${state}'
if touch /etc/.qtstatus-sandbox-probe 2>/dev/null; then rm -f /etc/.qtstatus-sandbox-probe; echo "SANDBOX: / is writable" >&2; exit 99; fi
exec setpriv --reuid=${nobody} --regid=${nobody} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs ${filter} "$@"
`,
  );
  return { argv: ['unshare', '--mount', '--propagation', 'private', 'sh', join(work, 'sandbox.sh')], parts };
}

// ---- a real installation

const installed = (p: string) => sh('dpkg-query', ['-W', '-f', '${Status}', p]).stdout;
const realCycle = canBuild && process.getuid?.() === 0 && has('dpkg') && !/installed|config-files/.test(installed('qtstatus'));
if (canBuild && !realCycle) console.warn('not root, or qtstatus is installed on this machine already: the dpkg install/upgrade/purge cycle is skipped');

describe.skipIf(!realCycle)('dpkg: install, upgrade, remove, purge (as root, on this machine)', () => {
  const userBefore = sh('getent', ['passwd', 'qtstatus']).status === 0;
  const groupBefore = sh('getent', ['group', 'qtstatus']).status === 0;
  const dpkg = (args: string[]) => sh('dpkg', ['--force-confold', ...args], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });

  afterAll(() => {
    // Whatever happened above, this machine keeps nothing of the test.
    if (/installed|config-files|half/.test(installed('qtstatus'))) dpkg(['--purge', 'qtstatus']);
    if (!userBefore && sh('getent', ['passwd', 'qtstatus']).status === 0) sh('deluser', ['--system', '--quiet', 'qtstatus']);
    if (!groupBefore && sh('getent', ['group', 'qtstatus']).status === 0) sh('delgroup', ['--system', '--quiet', 'qtstatus']);
  });

  it('installs: a system user, the state directory, units enabled and not started', () => {
    const r = dpkg(['-i', debs[v1] as string]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('qtstatus.socket (port 443) and qtstatus.service are enabled, not started');
    expect(installed('qtstatus')).toBe('install ok installed');
    const [, , uid, , , home, shell] = sh('getent', ['passwd', 'qtstatus']).stdout.trim().split(':');
    expect(Number(uid)).toBeLessThan(1000);
    expect(home).toBe('/var/lib/qtstatus');
    expect(shell).toMatch(/nologin|false/);
    const state = statSync('/var/lib/qtstatus');
    expect(state.uid).toBe(Number(uid));
    expect(state.mode & 0o777).toBe(0o750);
    expect(existsSync('/etc/systemd/system/sockets.target.wants/qtstatus.socket')).toBe(true);
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/qtstatus.service')).toBe(true);
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/qtstatus-listen.service')).toBe(false);
    expect(sh('qtstatus', ['--version']).stdout.trim()).toBe(pkg.version);
    expect(sh('man', ['-w', 'qtstatus-serve']).stdout.trim()).toBe('/usr/share/man/man1/qtstatus-serve.1.gz');
  });

  it.skipIf(!has('systemd-analyze'))('has units that verify where they are installed, manual pages included', () => {
    const r = sh('systemd-analyze', ['verify', '/lib/systemd/system/qtstatus.socket', '/lib/systemd/system/qtstatus.service', '/lib/systemd/system/qtstatus-listen.service']);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('lets the qtstatus user keep its database in /var/lib/qtstatus', () => {
    const r = sh('runuser', ['-u', 'qtstatus', '--', 'qtstatus', 'users', 'add', 'valid_user@qt-test.com', '--db', '/var/lib/qtstatus/qtstatus.db'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NO_COLOR: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync('/var/lib/qtstatus/qtstatus.db')).toBe(true);
  });

  it("upgrades, keeping the administrator's configuration, choices and data", () => {
    writeFileSync('/etc/qtstatus/serve.conf', `${readFileSync('/etc/qtstatus/serve.conf', 'utf8')}\nudp-target = 127.0.0.1:6667\n`);
    // The administrator turns the listener on and the server off (with its socket: Also=).
    expect(sh('systemctl', ['enable', 'qtstatus-listen.service']).status).toBe(0);
    expect(sh('systemctl', ['disable', 'qtstatus.service']).status).toBe(0);
    const r = dpkg(['-i', debs[v2] as string]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('are enabled, not started'); // said once, at the first installation
    expect(sh('dpkg-query', ['-W', '-f', '${Version}', 'qtstatus']).stdout).toBe(v2);
    expect(readFileSync('/etc/qtstatus/serve.conf', 'utf8')).toContain('udp-target = 127.0.0.1:6667');
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/qtstatus-listen.service')).toBe(true);
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/qtstatus.service')).toBe(false);
    expect(existsSync('/etc/systemd/system/sockets.target.wants/qtstatus.socket')).toBe(false);
    expect(existsSync('/var/lib/qtstatus/qtstatus.db')).toBe(true);
  });

  it('removes: the program and units go; configuration and data stay', () => {
    const r = dpkg(['-r', 'qtstatus']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(installed('qtstatus')).toBe('deinstall ok config-files');
    expect(existsSync('/usr/bin/qtstatus')).toBe(false);
    expect(existsSync('/lib/systemd/system/qtstatus.service')).toBe(false);
    expect(existsSync('/etc/qtstatus/serve.conf')).toBe(true);
    expect(existsSync('/var/lib/qtstatus/qtstatus.db')).toBe(true);
  });

  it('purges: configuration, state and unit links go; a key the administrator made stays; the user stays', () => {
    writeFileSync('/etc/qtstatus/server.key', 'not a real key\n', { mode: 0o600 });
    writeFileSync('/etc/qtstatus/serve.env', 'QTSTATUS_DB=postgres://qtstatus:secret@db/qtstatus\n', { mode: 0o600 });
    const r = dpkg(['--purge', 'qtstatus']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(installed('qtstatus')).not.toMatch(/installed|config-files/);
    expect(existsSync('/var/lib/qtstatus')).toBe(false);
    expect(existsSync('/etc/qtstatus/serve.conf')).toBe(false);
    expect(existsSync('/etc/qtstatus/listen.conf')).toBe(false);
    expect(existsSync('/etc/qtstatus/serve.env')).toBe(false);
    expect(readdirSync('/etc/qtstatus')).toEqual(['server.key']);
    expect(r.stdout).toContain('kept /etc/qtstatus');
    const links = sh('sh', ['-c', 'find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name "qtstatus*" 2>/dev/null']).stdout.trim();
    expect(links).toBe('');
    expect(sh('getent', ['passwd', 'qtstatus']).status).toBe(0); // Debian keeps system users
    rmSync('/etc/qtstatus', { recursive: true, force: true });
  });
});
