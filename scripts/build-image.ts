// npm run build:image — an OCI image of qtstatus, built offline with buildah
// (Debian's package) FROM scratch (issue #13): the standalone executable and
// the shared libraries it loads (as ldd finds them), /etc/passwd and
// /etc/group with a non-root user (10001), /etc/qtstatus/serve.conf, and
// /var/lib/qtstatus, a volume for the store owned by that user. Nothing is
// downloaded: no base image, no package manager, no shell in the image.
//
//   node scripts/build-image.ts [--out dist] [--tag localhost/qtstatus:VERSION] [--binary FILE]
//
// Writes dist/qtstatus_VERSION_oci.tar, an oci-archive:
//   podman load -i dist/qtstatus_0.1.0_oci.tar        (or: skopeo copy oci-archive:… docker-daemon:…)
//   podman run -v qtstatus:/var/lib/qtstatus -p 8443:8443 localhost/qtstatus:0.1.0
// packaging/compose.yaml runs it with PostgreSQL.
//
// buildah runs with storage of its own in a temporary directory (vfs, no
// fuse-overlayfs needed), so the build leaves nothing in the machine's
// container storage; as another user than root it runs itself again under
// `buildah unshare`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDate } from './build-man.ts';
import { configFile, copyExecutable, has, PKG, ROOT, SERVE_INTRO, standaloneExecutable } from './build-deb.ts';

export const UID = 10001;
export const STATE = '/var/lib/qtstatus';

/** The shared libraries `exe` loads, and its interpreter: the paths the loader opens. */
export function sharedLibraries(exe: string): string[] {
  const out = execFileSync('ldd', [exe], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1] as string);
    else if (/not found/.test(line)) throw new Error(`ldd ${exe}: ${line.trim()}`);
  }
  return [...new Set(libs)];
}

/** The image's filesystem in `dir`, with its owners and modes (run as root, or under buildah unshare). */
export async function stageRootfs(dir: string, exe: string): Promise<void> {
  const at = (p: string) => join(dir, p);
  const d = (p: string, mode = 0o755) => {
    mkdirSync(at(p), { recursive: true });
    chmodSync(at(p), mode);
  };
  const file = (p: string, data: string | Buffer, mode = 0o644) => {
    mkdirSync(dirname(at(p)), { recursive: true });
    writeFileSync(at(p), data);
    chmodSync(at(p), mode);
  };
  d('usr/bin');
  copyExecutable(exe, at('usr/bin/qtstatus'));
  // Each library at the path the loader asks for (a link's target copied under the link's name).
  for (const lib of sharedLibraries(at('usr/bin/qtstatus'))) {
    mkdirSync(dirname(at(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), at(lib));
    chmodSync(at(lib), 0o755);
  }
  file('etc/passwd', `root:x:0:0:root:/root:/usr/sbin/nologin\nqtstatus:x:${UID}:${UID}:qtstatus:${STATE}:/usr/sbin/nologin\n`);
  file('etc/group', `root:x:0:\nqtstatus:x:${UID}:\n`);
  file('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  file(
    'etc/qtstatus/serve.conf',
    await configFile('serve', {
      title: '/etc/qtstatus/serve.conf in the qtstatus image: the settings of its default command.',
      intro: [
        ...SERVE_INTRO,
        '',
        'In a container, the environment is the usual way: QTSTATUS_DB, QTSTATUS_UDP_TARGET …',
        `(packaging/compose.yaml). Mount the certificates at /etc/qtstatus/{server.crt,server.key,ca.crt}, readable by uid ${UID}.`,
      ],
      settings: { cert: '/etc/qtstatus/server.crt', key: '/etc/qtstatus/server.key', ca: '/etc/qtstatus/ca.crt', db: `${STATE}/qtstatus.db` },
    }),
  );
  d('tmp', 0o1777);
  d('root', 0o700);
  d(STATE.slice(1), 0o750);
  chownSync(at(STATE.slice(1)), UID, UID);
}

export interface ImageOptions {
  out?: string;
  tag?: string;
  binary?: string;
  log?: (s: string) => void;
}

/** Builds the image into an oci-archive; returns its path. */
export async function buildImage(opts: ImageOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const out = opts.out ?? join(ROOT, 'dist');
  const tag = opts.tag ?? `localhost/qtstatus:${PKG.version}`;
  const exe = opts.binary ?? (await standaloneExecutable(log));
  mkdirSync(out, { recursive: true });
  const archive = join(out, `qtstatus_${PKG.version}_oci.tar`);
  const work = mkdtempSync(join(tmpdir(), 'qtstatus-image-'));
  const storage = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
  const buildah = (args: string[]) => execFileSync('buildah', [...storage, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BUILDAH_ISOLATION: 'chroot' } }).trim();
  let container: string | undefined;
  try {
    const rootfs = join(work, 'rootfs');
    await stageRootfs(rootfs, exe);
    container = buildah(['from', '--name', `qtstatus-build-${process.pid}`, 'scratch']);
    const mount = buildah(['mount', container]);
    // cp -a keeps owners and modes, which `buildah copy` would make root's.
    execFileSync('cp', ['-a', `${rootfs}/.`, `${mount}/`]);
    buildah(['umount', container]);
    const created = `${buildDate()}T00:00:00Z`;
    let revision = 'unknown';
    try {
      revision = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // not a clone
    }
    const labels = {
      'org.opencontainers.image.title': 'qtstatus',
      'org.opencontainers.image.description': PKG.description,
      'org.opencontainers.image.version': PKG.version,
      'org.opencontainers.image.revision': revision,
      'org.opencontainers.image.created': created,
      'org.opencontainers.image.licenses': PKG.license,
      'org.opencontainers.image.documentation': 'docs/deploy.md',
    };
    buildah([
      'config',
      '--os', 'linux',
      '--arch', 'amd64',
      '--user', `${UID}:${UID}`,
      '--workingdir', STATE,
      '--volume', STATE,
      '--port', '8443/tcp',
      '--env', `HOME=${STATE}`,
      '--env', 'PATH=/usr/bin',
      '--stop-signal', 'SIGTERM',
      '--created-by', 'scripts/build-image.ts: FROM scratch, the standalone executable, its shared libraries, a user',
      '--entrypoint', JSON.stringify(['/usr/bin/qtstatus']),
      '--cmd', JSON.stringify(['serve', '--config', '/etc/qtstatus/serve.conf']),
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      container,
    ]);
    rmSync(archive, { force: true });
    buildah(['commit', '--format', 'oci', '--timestamp', String(Date.parse(created) / 1000), '--rm', container, `oci-archive:${archive}:${tag}`]);
    container = undefined;
    log(`built ${archive} (${tag}, ${(statSync(archive).size / 1048576).toFixed(1)} MB)`);
    return archive;
  } finally {
    if (container) spawnSync('buildah', [...storage, 'rm', container], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  if (!has('buildah')) {
    console.error('build-image: buildah is missing (apt-get install buildah)');
    process.exit(1);
  }
  if (process.getuid?.() !== 0 && !process.env._CONTAINERS_USERNS_CONFIGURED) {
    // Owners other than ours need a user namespace: the same command under buildah unshare.
    const r = spawnSync('buildah', ['unshare', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const archive = await buildImage({ out: arg('out'), tag: arg('tag'), binary: arg('binary'), log: (s) => console.error(s) });
  console.log(archive);
}
