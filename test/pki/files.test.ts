import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { ensureDirectory, writeFilesAtomically } from '../../src/pki/files.ts';
import { tempDir } from '../helpers/tls.ts';

let root: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir: root, remove } = await tempDir()));
afterAll(() => remove());

describe('writeFilesAtomically', () => {
  it('writes every file with its mode whatever the umask', async () => {
    const dir = join(root, 'modes');
    await mkdir(dir);
    const old = process.umask(0o022);
    try {
      await writeFilesAtomically(
        [
          { path: join(dir, 'a.crt'), data: 'cert', mode: 0o644 },
          { path: join(dir, 'a.key'), data: 'key', mode: 0o600 },
        ],
        { force: false },
      );
    } finally {
      process.umask(old);
    }
    expect((await stat(join(dir, 'a.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'a.crt'))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, 'a.key'), 'utf8')).toBe('key');
  });

  it('writes nothing when one file exists, and replaces with force', async () => {
    const dir = join(root, 'exists');
    await mkdir(dir);
    await writeFile(join(dir, 'b.key'), 'old');
    const files = [
      { path: join(dir, 'b.crt'), data: 'new cert', mode: 0o644 },
      { path: join(dir, 'b.key'), data: 'new key', mode: 0o600 },
    ];
    await expect(writeFilesAtomically(files, { force: false })).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `${join(dir, 'b.key')} already exists` });
    expect(await readdir(dir)).toEqual(['b.key']);
    await writeFilesAtomically(files, { force: true });
    expect(await readFile(join(dir, 'b.key'), 'utf8')).toBe('new key');
    expect((await readdir(dir)).sort()).toEqual(['b.crt', 'b.key']);
  });

  it('leaves no file and no temporary file when a later one cannot be written', async () => {
    const dir = join(root, 'half');
    await mkdir(dir);
    const files = [
      { path: join(dir, 'c.crt'), data: 'cert', mode: 0o644 },
      { path: join(dir, 'missing', 'c.key'), data: 'key', mode: 0o600 },
    ];
    await expect(writeFilesAtomically(files, { force: false })).rejects.toMatchObject({
      code: ErrorCodes.FILE,
      message: `cannot write ${join(dir, 'missing', 'c.key')}`,
      hint: expect.stringContaining('nothing was written'),
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('noReplace files (the CA, issue #10)', () => {
  it('are never replaced, not even with force, and then nothing is written', async () => {
    const dir = join(root, 'no-replace');
    await mkdir(dir);
    await writeFile(join(dir, 'ca.key'), 'the CA key');
    const files = [
      { path: join(dir, 'ca.crt'), data: 'new CA', mode: 0o644, noReplace: true },
      { path: join(dir, 'ca.key'), data: 'new key', mode: 0o600, noReplace: true },
      { path: join(dir, 'leaf.crt'), data: 'leaf', mode: 0o644 },
    ];
    await expect(writeFilesAtomically(files, { force: true })).rejects.toMatchObject({
      code: ErrorCodes.FILE,
      message: `${join(dir, 'ca.key')} already exists`,
      reason: 'ca_exists',
      facts: { paths: [join(dir, 'ca.key')], written: [] },
    });
    expect(await readdir(dir)).toEqual(['ca.key']);
    expect(await readFile(join(dir, 'ca.key'), 'utf8')).toBe('the CA key');
  });

  it('are written, with their modes, where there is nothing', async () => {
    const dir = join(root, 'no-replace-new');
    await mkdir(dir);
    await writeFilesAtomically([{ path: join(dir, 'ca.key'), data: 'key', mode: 0o600, noReplace: true }], { force: false });
    expect(await readdir(dir)).toEqual(['ca.key']);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
  });
});

describe('ensureDirectory', () => {
  it('creates a 0700 directory, and warns about an existing open one', async () => {
    const dir = join(root, 'new', 'certs');
    expect(await ensureDirectory(dir)).toEqual({ created: true });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const open = join(root, 'open');
    await mkdir(open, { mode: 0o755 });
    const r = await ensureDirectory(open);
    expect(r.created).toBe(false);
    expect(r.warning).toMatch(/open to other users \(mode 755\)/);
  });
});
