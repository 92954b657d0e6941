// npm run build:deb — dist/qtstatus_VERSION_amd64.deb (issue #13), built by
// hand with dpkg-deb (no debhelper, no source package): the standalone
// executable as /usr/bin/qtstatus, systemd units for serve (socket activated)
// and listen, a system user made by postinst, state in /var/lib/qtstatus,
// configuration in /etc/qtstatus (conffiles), manual pages and bash, zsh and
// fish completions, Depends computed by dpkg-shlibdeps.
//
//   node scripts/build-deb.ts [--version 0.1.0-1] [--out dist] [--compress xz|gzip|zstd|none]
//                             [--binary FILE]
//
// The executable: --binary, else one built for the current sources into
// dist/pkg/sea-<hash>/ (scripts/build-binary.ts' steps, in a directory of its
// own, so that it never races a build of dist/qtstatus running beside it,
// such as test/cli/binary.test.ts'; the same sources reuse it).
// Also the helpers scripts/build-image.ts shares.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { buildDate, buildMan, cleanProgram } from './build-man.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; description: string; license: string };
const PACKAGING = join(ROOT, 'packaging');

const sh = (cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();

const has = (cmd: string) => {
  try {
    sh('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};

// ---- the standalone executable

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** What the executable is made of: the sources, the build scripts, the lockfile, the Node that builds it, the commit it names. */
function sourceHash(): string {
  const h = createHash('sha256');
  const files = [...filesUnder(join(ROOT, 'src')), ...['package.json', 'package-lock.json', 'scripts/bundle.ts', 'scripts/build-binary.ts', 'scripts/build-deb.ts'].map((f) => join(ROOT, f))];
  for (const f of files) {
    if (!existsSync(f)) continue;
    h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  h.update(process.version).update(process.execPath);
  try {
    h.update(sh('git', ['rev-parse', 'HEAD'], { cwd: ROOT }));
  } catch {
    // not a clone
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The standalone executable of the current sources, built by ./sea.ts as
 * for dist/qtstatus, but in dist/pkg/sea-<hash>/ (dist/qtstatus is rebuilt
 * by test/cli/binary.test.ts beside). Several builds at once (the .deb
 * and image tests) wait for one another through a lock directory.
 */
export async function standaloneExecutable(log: (s: string) => void = () => {}): Promise<string> {
  const cache = join(ROOT, 'dist', 'pkg');
  mkdirSync(cache, { recursive: true });
  const dir = join(cache, `sea-${sourceHash()}`);
  const exe = join(dir, 'qtstatus');
  const lock = `${dir}.lock`;
  for (let waited = 0; !existsSync(exe); ) {
    try {
      mkdirSync(lock);
    } catch {
      // Another build of the same sources: wait for it (a lock older than 10 minutes is a dead one's).
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 600_000) rmSync(lock, { recursive: true, force: true });
      if ((waited += 500) > 900_000) throw new Error(`gave up waiting for ${lock}`);
      await sleep(500);
      continue;
    }
    try {
      if (!existsSync(exe)) await buildExecutable(dir, log);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  // Builds of other sources (113 MB each) go once they are 10 minutes old: a build beside may still copy a newer one.
  for (const e of readdirSync(cache)) {
    const p = join(cache, e);
    if (/^sea-[0-9a-f]{16}$/.test(e) && p !== dir && Date.now() - (statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 600_000) rmSync(p, { recursive: true, force: true });
  }
  return exe;
}

async function buildExecutable(dir: string, log: (s: string) => void): Promise<void> {
  const started = Date.now();
  const { buildSea } = await import('./sea.ts');
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    const { output, base } = await buildSea(tmp);
    const version = sh(output, ['--version']).trim();
    if (version !== PKG.version) throw new Error(`the new executable says ${version}, not ${PKG.version}`);
    rmSync(base);
    renameSync(tmp, dir);
    log(`built the standalone executable ${join(dir, 'qtstatus')} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A copy of `exe` at `to` that is known to run (`--version`): never half a file. */
export function copyExecutable(exe: string, to: string): void {
  const tmp = `${to}.${process.pid}.tmp`;
  copyFileSync(exe, tmp);
  chmodSync(tmp, 0o755);
  const version = sh(tmp, ['--version']).trim();
  if (version !== PKG.version) throw new Error(`${exe} says ${version}, not ${PKG.version}`);
  renameSync(tmp, to);
}

// ---- files made from the command definitions

/** gzip -9n: no name, no time stamp, so the same input gives the same bytes. */
export const gzip = (data: Buffer | string) => gzipSync(data, { level: 9 });

const defaultOf = (o: Command['options'][number]): string | undefined => {
  if (o.defaultValueDescription) return o.defaultValueDescription;
  const v = o.defaultValue as unknown;
  if (Array.isArray(v)) return v.length ? v.join(',') : undefined;
  if (v !== undefined) return String(v);
  if (o.isBoolean()) return 'false';
  return /\(default ([^)]+)\)/.exec(o.description)?.[1];
};

/**
 * A configuration file for `qtstatus serve` or `listen` with every setting of
 * the command, commented out with its default, and `settings` set: what
 * `--config` reads (src/cli/config.ts).
 */
export async function configFile(command: 'serve' | 'listen', opts: { title: string; intro: string[]; settings: Record<string, string>; notes?: Record<string, string[]> }): Promise<string> {
  const program = await cleanProgram();
  const cmd = program.commands.find((c) => c.name() === command) as Command;
  const out = [`# ${opts.title}`, ...opts.intro.map((l) => (l ? `# ${l}` : '#')), ''];
  const known = new Set<string>();
  for (const o of cmd.options) {
    const name = o.long?.replace(/^--/, '');
    if (!name || name === 'config' || name === 'help' || o.negate) continue;
    known.add(name);
    const desc = o.description.replace(/\s*\n\s*/g, ' ');
    out.push(`# ${name}: ${desc}${o.envVar ? ` (${o.envVar})` : ''}`);
    for (const n of opts.notes?.[name] ?? []) out.push(`# ${n}`);
    const def = defaultOf(o);
    out.push(`#${name} =${def === undefined ? '' : ` ${def}`}`);
    if (opts.settings[name] !== undefined) out.push(`${name} = ${opts.settings[name]}`);
    out.push('');
  }
  for (const name of Object.keys(opts.settings)) if (!known.has(name)) throw new Error(`qtstatus ${command} has no --${name}`);
  return out.join('\n');
}

export const SERVE_INTRO = [
  'One `name = value` a line: a long option of `qtstatus serve --help` without',
  'its dashes; a repeatable one on several lines; a flag takes true or false.',
  'Each source overrides the one before it: the defaults, this file, the',
  'environment (QTSTATUS_PORT …), the command line. Every setting is here with',
  'its default; remove the # to change one. man qtstatus-serve: what each does.',
];

// ---- the package

export interface DebOptions {
  /** The Debian version, `0.1.0-1` (the package's, with revision 1) unless given. */
  version?: string;
  out?: string;
  compress?: 'xz' | 'gzip' | 'zstd' | 'none';
  binary?: string;
  log?: (s: string) => void;
}

function maintainer(): string {
  if (process.env.DEBFULLNAME && process.env.DEBEMAIL) return `${process.env.DEBFULLNAME} <${process.env.DEBEMAIL}>`;
  try {
    const who = sh('git', ['log', '-1', '--format=%an <%ae>'], { cwd: ROOT }).trim();
    if (/^.+ <[^@\s]+@[^>\s]+>$/.test(who)) return who;
  } catch {
    // not a clone
  }
  return 'qtstatus maintainers <qtstatus@users.noreply.example.org>';
}

/** The Depends of the executable's shared libraries: dpkg-shlibdeps, as debhelper would run it. */
function sharedLibraryDepends(exe: string): string {
  const tmp = mkdtempSync(join(ROOT, 'dist', 'pkg', 'shlibdeps-'));
  try {
    mkdirSync(join(tmp, 'debian'));
    writeFileSync(join(tmp, 'debian', 'control'), 'Source: qtstatus\n\nPackage: qtstatus\nArchitecture: amd64\n');
    const out = sh('dpkg-shlibdeps', ['-O', `-e${exe}`], { cwd: tmp });
    const m = /^shlibs:Depends=(.*)$/m.exec(out);
    if (!m) throw new Error(`dpkg-shlibdeps said: ${out}`);
    return m[1] as string;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The npm packages inside the bundle and their licenses, for the copyright file. */
async function bundledPackages(): Promise<Array<{ name: string; version: string; license: string }>> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(ROOT, 'src/cli/sea-main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    external: ['pg-native'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const dirs = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(input.slice(0, input.indexOf(m[1] as string) + (m[1] as string).length));
  }
  return [...dirs]
    .map((d) => JSON.parse(readFileSync(join(ROOT, d, 'package.json'), 'utf8')) as { name: string; version: string; license?: string })
    .map((p) => ({ name: p.name, version: p.version, license: p.license ?? 'see the package' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`;

async function copyright(): Promise<string> {
  const packages = await bundledPackages();
  const indent = (text: string) => text.split('\n').map((l) => ` ${l}`).join('\n');
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: qtstatus
Comment: /usr/bin/qtstatus is one file: the Node.js ${process.version} runtime with the
 qtstatus program and the npm packages it uses bundled into it (Node's
 single-executable applications).
 .
 Node.js is under the Expat (MIT) license, and the libraries built into it
 (V8, libuv, OpenSSL, ICU, zlib, llhttp, c-ares, nghttp2, sqlite and others)
 under their own, listed in https://github.com/nodejs/node/blob/${process.version}/LICENSE
 .
 The npm packages bundled, with their licenses:
${indent(packages.map((p) => `${p.name} ${p.version}: ${p.license}`).join('\n'))}

Files: *
Copyright: ${buildDate().slice(0, 4)} the qtstatus authors
License: Expat

License: Expat
${indent(MIT)}
`;
}

function changelog(version: string, who: string): string {
  const date = new Date(`${buildDate()}T00:00:00Z`).toUTCString().replace(/GMT$/, '+0000');
  return `qtstatus (${version}) unstable; urgency=medium

  * qtstatus ${PKG.version}: the standalone executable, systemd units for
    serve (socket activated) and listen, a system user, manual pages and
    shell completions (issue #13).

 -- ${who}  ${date}
`;
}

function installedSizeKiB(dir: string): number {
  // As dpkg-gencontrol counts: every file rounded up to 1 KiB, every directory 1.
  let size = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) size += 1 + installedSizeKiB(p);
    else size += Math.ceil(statSync(p).size / 1024);
  }
  return size;
}

function put(file: string, data: Buffer | string, mode = 0o644): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, data);
  chmodSync(file, mode);
}

/** Builds the .deb; returns its path. */
export async function buildDeb(opts: DebOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const version = opts.version ?? `${PKG.version}-1`;
  const out = opts.out ?? join(ROOT, 'dist');
  const exe = opts.binary ?? (await standaloneExecutable(log));
  const stage = join(out, 'deb', `qtstatus_${version}_amd64`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const at = (p: string) => join(stage, p);

  // The executable, which also writes the completions.
  mkdirSync(at('usr/bin'), { recursive: true });
  copyExecutable(exe, at('usr/bin/qtstatus'));
  const completion = (shell: string) => sh(at('usr/bin/qtstatus'), ['completion', shell], { env: { PATH: '/usr/bin:/bin', NO_COLOR: '1' } });
  put(at('usr/share/bash-completion/completions/qtstatus'), completion('bash'));
  put(at('usr/share/zsh/vendor-completions/_qtstatus'), completion('zsh'));
  put(at('usr/share/fish/vendor_completions.d/qtstatus.fish'), completion('fish'));

  // Manual pages, gzipped.
  const man = mkdtempSync(join(out, 'deb', 'man-'));
  try {
    for (const f of await buildMan(man)) put(at(`usr/share/man/man1/${f}.gz`), gzip(readFileSync(join(man, f))));
  } finally {
    rmSync(man, { recursive: true, force: true });
  }

  // systemd units; /lib/systemd/system, where Debian 12 keeps them.
  for (const unit of ['qtstatus.service', 'qtstatus.socket', 'qtstatus-listen.service']) {
    put(at(`lib/systemd/system/${unit}`), readFileSync(join(PACKAGING, 'systemd', unit)));
  }

  // Configuration (conffiles).
  put(
    at('etc/qtstatus/serve.conf'),
    await configFile('serve', {
      title: '/etc/qtstatus/serve.conf: the settings of qtstatus.service (`qtstatus serve --config`).',
      intro: [
        ...SERVE_INTRO,
        '',
        'Secrets (a database password) go in /etc/qtstatus/serve.env instead, mode',
        '0600, read by systemd: QTSTATUS_DB=postgres://qtstatus:…@db.internal/qtstatus',
        'After a change: systemctl restart qtstatus (certificates: systemctl reload qtstatus).',
      ],
      settings: { cert: '/etc/qtstatus/server.crt', key: '/etc/qtstatus/server.key', ca: '/etc/qtstatus/ca.crt', db: '/var/lib/qtstatus/qtstatus.db' },
      notes: {
        host: ['Under systemd, qtstatus.socket holds the address and port (443) and hands', 'them over: host and port are then unused (systemctl edit qtstatus.socket).'],
        port: ['Unused under qtstatus.socket, as host.'],
        key: ['Readable by the qtstatus group: chgrp qtstatus server.key; chmod 0640 server.key'],
        'udp-target': ['One line per target: a broadcast, a multicast group (with udp-ttl) or a host.'],
      },
    }),
  );
  put(
    at('etc/qtstatus/listen.conf'),
    await configFile('listen', {
      title: '/etc/qtstatus/listen.conf: the settings of qtstatus-listen.service (`qtstatus listen --config`).',
      intro: [
        'One `name = value` a line: a long option of `qtstatus listen --help` without',
        'its dashes; a flag takes true or false. Each source overrides the one before',
        'it: the defaults, this file, the environment (QTSTATUS_LISTEN_PORT …), the',
        'command line. Every setting is here with its default; remove the # to change',
        'one. After a change: systemctl restart qtstatus-listen.',
      ],
      settings: {},
    }),
  );

  // Documentation.
  const who = maintainer();
  put(at('usr/share/doc/qtstatus/copyright'), await copyright());
  put(at('usr/share/doc/qtstatus/changelog.Debian.gz'), gzip(changelog(version, who)));
  put(at('usr/share/doc/qtstatus/README.md.gz'), gzip(readFileSync(join(ROOT, 'README.md'))));
  for (const doc of ['deploy.md', 'certs.md', 'nginx.md', 'protocol.md', 'security.md']) {
    const f = join(ROOT, 'docs', doc);
    if (existsSync(f)) put(at(`usr/share/doc/qtstatus/${doc}.gz`), gzip(readFileSync(f)));
  }
  put(at('usr/share/lintian/overrides/qtstatus'), readFileSync(join(PACKAGING, 'debian', 'lintian-overrides')));

  // Control files.
  const depends = ['adduser', sharedLibraryDepends(at('usr/bin/qtstatus'))].join(', ');
  const installedSize = installedSizeKiB(stage);
  for (const script of ['postinst', 'prerm', 'postrm']) put(at(`DEBIAN/${script}`), readFileSync(join(PACKAGING, 'debian', script)), 0o755);
  put(at('DEBIAN/conffiles'), '/etc/qtstatus/listen.conf\n/etc/qtstatus/serve.conf\n');
  const md5 = filesUnder(stage)
    .filter((f) => !relative(stage, f).startsWith('DEBIAN/') && !relative(stage, f).startsWith('etc/'))
    .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(stage, f)}`);
  put(at('DEBIAN/md5sums'), `${md5.join('\n')}\n`);
  const description = readFileSync(join(PACKAGING, 'debian', 'description'), 'utf8').trimEnd();
  put(
    at('DEBIAN/control'),
    `Package: qtstatus
Version: ${version}
Architecture: amd64
Maintainer: ${who}
Installed-Size: ${installedSize}
Depends: ${depends}
Suggests: postgresql
Section: net
Priority: optional
${description}
`,
  );
  for (const d of walkDirs(stage)) chmodSync(d, 0o755);

  const deb = join(out, `qtstatus_${version}_amd64.deb`);
  const compress = opts.compress ?? 'xz';
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(Date.parse(`${buildDate()}T00:00:00Z`) / 1000) };
  sh('dpkg-deb', ['--build', '--root-owner-group', `-Z${compress}`, ...(compress === 'gzip' ? ['-z6'] : []), stage, deb], { env });
  log(`built ${deb} (${(statSync(deb).size / 1048576).toFixed(1)} MB, ${compress})`);
  return deb;
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...walkDirs(join(dir, e.name)));
  return out;
}

export { has };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  for (const tool of ['dpkg-deb', 'dpkg-shlibdeps']) {
    if (!has(tool)) {
      console.error(`build-deb: ${tool} is missing (apt-get install dpkg-dev)`);
      process.exit(1);
    }
  }
  const deb = await buildDeb({
    version: arg('version'),
    out: arg('out'),
    compress: arg('compress') as DebOptions['compress'],
    binary: arg('binary'),
    log: (s) => console.error(s),
  });
  console.log(deb);
}
