// Writing certificate sets safely: the directory is private (0700), keys are
// 0600, and every file is first written in full to a temporary name and then
// renamed, so a failure never leaves a half-written or mismatched set.

import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, rename, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;

export interface OutFile {
  path: string;
  data: string | Buffer;
  mode: number;
  /**
   * Never replace what is there, even with `force`, even if it appears while
   * we write: the CA's files (issue #10: nothing but `certs init` on a
   * directory without a CA writes them).
   */
  noReplace?: boolean;
  /**
   * Always replace what is there, without `force`: files that are rewritten
   * as a whole on every change (the record of issued certificates, the CRL).
   */
  replace?: boolean;
}

/**
 * Creates `dir` (mode 0700) when missing. Returns a warning when an existing
 * directory is readable by others.
 */
export async function ensureDirectory(dir: string): Promise<{ created: boolean; warning?: string }> {
  let existing;
  try {
    existing = await stat(dir);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isDirectory()) {
    throw new QtError(ErrorCodes.FILE, `cannot use ${dir} as the certificate directory`, {
      cause: 'it is a file',
      reason: 'dir_is_file',
      setting: 'dir',
      path: dir,
    });
  }
  if (existing) {
    const mode = existing.mode & 0o777;
    return mode & 0o077
      ? { created: false, warning: `${dir} is open to other users (mode ${mode.toString(8)}); keys stay 0600, but consider chmod 700 ${dir}` }
      : { created: false };
  }
  try {
    await makeDirectories(dir);
    return { created: true };
  } catch (err) {
    throw new QtError(ErrorCodes.FILE, `cannot create directory ${dir}`, {
      cause: err,
      reason: 'dir_not_created',
      setting: 'dir',
      path: dir,
    });
  }
}

/**
 * `mkdir -p` one level at a time: Node's recursive mkdir spins forever on
 * some paths (under /proc, for one) instead of failing.
 */
async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (await exists(d)) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) await mkdir(d, { mode: DIR_MODE });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Refuses, naming them, files that exist unless `force`. */
export async function assertCanWrite(paths: string[], force: boolean): Promise<void> {
  if (force) return;
  const found = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : undefined)))).filter((p) => p !== undefined);
  if (found.length > 0) {
    throw new QtError(ErrorCodes.FILE, `${found.join(', ')} already ${found.length > 1 ? 'exist' : 'exists'}`, {
      reason: 'file_exists',
      setting: 'force',
      path: found[0],
      facts: { paths: found, written: [] },
    });
  }
}

async function writeTemp(file: OutFile): Promise<string> {
  const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx', file.mode);
    await handle.writeFile(file.data);
    await handle.chmod(file.mode); // whatever the umask
    await handle.sync();
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw new QtError(ErrorCodes.FILE, `cannot write ${file.path}`, {
      cause: err,
      hint: `check that you may write in ${dirname(file.path)}; nothing was written`,
    });
  }
  await handle.close();
  return temp;
}

/** Refuses files that must never be replaced (`noReplace`) when they exist. */
async function assertNew(paths: string[]): Promise<void> {
  const found = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : undefined)))).filter((p) => p !== undefined);
  if (found.length > 0) {
    throw new QtError(ErrorCodes.FILE, `${found.join(', ')} already ${found.length > 1 ? 'exist' : 'exists'}`, {
      reason: 'ca_exists',
      path: found[0],
      facts: { paths: found, written: [] },
    });
  }
}

/**
 * Puts a finished temporary file in place. `noReplace`: link(2) fails when
 * the name exists, so even a file that appeared meanwhile is kept (rename
 * would replace it); where links are not supported, checked just before.
 */
async function putInPlace(temp: string, file: OutFile): Promise<void> {
  if (!file.noReplace) return rename(temp, file.path);
  try {
    await link(temp, file.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || !['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code ?? '')) throw err;
    await assertNew([file.path]);
    return rename(temp, file.path);
  }
  await unlink(temp);
}

/**
 * Writes every file to a temporary name, then renames them all into place.
 * Existing files are refused unless `force`; `noReplace` files always.
 */
export async function writeFilesAtomically(files: OutFile[], opts: { force: boolean }): Promise<void> {
  await assertNew(files.filter((f) => f.noReplace).map((f) => f.path));
  await assertCanWrite(
    files.filter((f) => !f.noReplace && !f.replace).map((f) => f.path),
    opts.force,
  );
  const temps: string[] = [];
  try {
    for (const file of files) temps.push(await writeTemp(file));
  } catch (err) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => {})));
    throw err;
  }
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as OutFile;
    try {
      await putInPlace(temps[i] as string, file);
    } catch (err) {
      await Promise.all(temps.slice(i).map((t) => unlink(t).catch(() => {})));
      // A new CA is all or nothing: its first half goes again.
      const placed = files.slice(0, i);
      await Promise.all(placed.filter((f) => f.noReplace).map((f) => unlink(f.path).catch(() => {})));
      const done = placed.filter((f) => !f.noReplace).map((f) => f.path);
      throw new QtError(ErrorCodes.FILE, `cannot put ${file.path} in place`, {
        cause: err,
        reason: 'partly_written',
        path: file.path,
        facts: { written: done },
        hint: done.length ? undefined : 'nothing was written',
      });
    }
  }
}

/** A lock older than this was left by a run that died: taken over. */
export const STALE_LOCK_MS = 120_000;
const LOCK_WAIT_MS = 15_000;

/**
 * Runs `work` while holding `lockPath`, a file created exclusively (O_EXCL),
 * so two runs that read, change and rewrite the same file (the record of
 * issued certificates, say) do not lose each other's change. A lock left by
 * a run that died is taken over after STALE_LOCK_MS; while `work` runs the
 * lock is touched, so a long run never looks dead.
 */
export async function withLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let handle;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    try {
      handle = await open(lockPath, 'wx', 0o600);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new QtError(ErrorCodes.FILE, `cannot create the lock file ${lockPath}`, { cause: err, hint: `check that you may write in ${dirname(lockPath)}; nothing was written` });
      }
      const since = await lstat(lockPath).then((s) => s.mtimeMs, () => undefined);
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS) {
        await unlink(lockPath).catch(() => {});
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new QtError(ErrorCodes.FILE, `${lockPath} is held by another run`, {
          cause: since === undefined ? undefined : `since ${new Date(since).toISOString()}`,
          hint: `wait for it to finish; if none is running, remove ${lockPath}; nothing was written`,
        });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  await handle.close();
  const touch = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => {});
  }, STALE_LOCK_MS / 4);
  touch.unref();
  try {
    return await work();
  } finally {
    clearInterval(touch);
    await unlink(lockPath).catch(() => {});
  }
}
