import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('adds, lists, shows and removes users; a name given twice is added once', async () => {
  const db = join(dir, 'u.db');
  const add = await runCli(['users', 'add', 'a@qt-test.com', 'b@qt-test.com', 'a@qt-test.com', '--db', db]);
  expect(add.code).toBe(0);
  expect(add.stderr).toBe('added a@qt-test.com\nadded b@qt-test.com\n');
  expect((await runCli(['users', 'add', 'a@qt-test.com', '--db', db])).stderr).toBe('exists a@qt-test.com\n');
  const list = JSON.parse((await runCli(['users', 'list', '--json', '--db', db])).stdout);
  expect(list.map((u: { email: string }) => u.email)).toEqual(['a@qt-test.com', 'b@qt-test.com']);
  expect(list[0]).toMatchObject({ lastSeen: null, ip: null, port: null });
  const text = await runCli(['users', 'list', '--db', db]);
  expect(text.stdout).toMatch(/^EMAIL +LAST SEEN \(UTC\) +AGE +IP +PORT\na@qt-test\.com +never\n/);
  expect((await runCli(['users', 'remove', 'b@qt-test.com', '--db', db])).code).toBe(0);
  const gone = await runCli(['users', 'show', 'b@qt-test.com', '--db', db]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/^qtstatus: no user b@qt-test\.com in .*\(add it: qtstatus users add b@qt-test\.com\)/);
});

it('refuses what is not an email address as a usage error', async () => {
  const r = await runCli(['users', 'add', 'not_an_email', '--db', join(dir, 'x.db')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/not an email address: "not_an_email"/);
});

it('does not create a database to list, show or remove from', async () => {
  const typo = join(dir, 'typo.db');
  for (const args of [['list'], ['show', 'a@qt-test.com'], ['remove', 'a@qt-test.com']]) {
    const r = await runCli(['users', ...args, '--db', typo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/there is no database at .*typo\.db/);
  }
  expect(existsSync(typo)).toBe(false);
});
