// Issue #10: bin/qtstatus kept Node's compile cache in the shared temp
// directory, where another user may own the directory and plant compiled
// code. It now uses a per-user directory that only the user can write
// ($XDG_CACHE_HOME/qtstatus/compile or ~/.cache/qtstatus/compile, 0700),
// or none; NODE_COMPILE_CACHE, when set, still decides.
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qt-cc-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A fresh HOME and TMPDIR; the cache variables unset unless given. */
async function place(): Promise<{ home: string; tmp: string }> {
  const base = join(root, `p${n++}`);
  const home = join(base, 'home');
  const tmp = join(base, 'tmp');
  await mkdir(home, { recursive: true });
  await mkdir(tmp, { recursive: true });
  return { home, tmp };
}

async function version(p: { home: string; tmp: string }, env: NodeJS.ProcessEnv = {}) {
  const r = await runCli(['--version'], {
    env: { HOME: p.home, TMPDIR: p.tmp, XDG_CACHE_HOME: undefined, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined, ...env },
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  return r;
}

/** Every file under `dir`, recursively ([] when it does not exist). */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const shared = (p: { tmp: string }) => join(p.tmp, 'node-compile-cache');

describe('the compile cache of bin/qtstatus', () => {
  it('lives in ~/.cache/qtstatus/compile, made 0700, never in the shared temp directory', async () => {
    const p = await place();
    await version(p);
    const dir = join(p.home, '.cache', 'qtstatus', 'compile');
    const st = await lstat(dir);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
    expect((await lstat(join(p.home, '.cache', 'qtstatus'))).mode & 0o077).toBe(0);
    expect((await files(dir)).length).toBeGreaterThan(0);
    expect(await files(shared(p))).toEqual([]);
    await version(p); // a warm start works as well
  });

  it('lives in $XDG_CACHE_HOME/qtstatus/compile when that is set', async () => {
    const p = await place();
    const xdg = join(p.home, 'xdg');
    await version(p, { XDG_CACHE_HOME: xdg });
    expect((await lstat(join(xdg, 'qtstatus', 'compile'))).mode & 0o777).toBe(0o700);
    expect((await files(join(xdg, 'qtstatus', 'compile'))).length).toBeGreaterThan(0);
    expect(await files(join(p.home, '.cache'))).toEqual([]);
  });

  it('is not used when the directory is writable by others: no cache at all', async () => {
    const p = await place();
    const dir = join(p.home, '.cache', 'qtstatus', 'compile');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o777);
    await version(p);
    expect(await files(dir)).toEqual([]);
    expect(await files(shared(p))).toEqual([]);
    // Nor when its parent is.
    const q = await place();
    await mkdir(join(q.home, '.cache', 'qtstatus', 'compile'), { recursive: true, mode: 0o700 });
    await chmod(join(q.home, '.cache', 'qtstatus'), 0o757);
    await version(q);
    expect(await files(join(q.home, '.cache'))).toEqual([]);
    expect(await files(shared(q))).toEqual([]);
  });

  it('is not used when the directory is a symbolic link, even to a private directory', async () => {
    const p = await place();
    const elsewhere = join(p.home, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    await mkdir(join(p.home, '.cache', 'qtstatus'), { recursive: true, mode: 0o700 });
    await symlink(elsewhere, join(p.home, '.cache', 'qtstatus', 'compile'));
    await version(p);
    expect(await files(elsewhere)).toEqual([]);
    expect(await files(shared(p))).toEqual([]);
  });

  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)(`is not used when another user owns it${asRoot ? '' : ' (skipped: needs root to chown)'}`, async () => {
    const p = await place();
    const dir = join(p.home, '.cache', 'qtstatus', 'compile');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, 65534, 65534);
    await version(p);
    expect(await files(dir)).toEqual([]);
    expect(await files(shared(p))).toEqual([]);
  });

  it('is where NODE_COMPILE_CACHE says when the user sets it', async () => {
    const p = await place();
    const chosen = join(p.tmp, 'chosen');
    await version(p, { NODE_COMPILE_CACHE: chosen });
    expect((await files(chosen)).length).toBeGreaterThan(0);
    expect(await files(join(p.home, '.cache'))).toEqual([]);
  });
});
