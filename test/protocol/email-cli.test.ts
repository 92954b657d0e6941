// Issue #10, defect 2, end to end: `certs` and `users` refuse the issue's
// strings as usage errors (exit 2) and leave nothing behind.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-email-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ESC = '\x1b';

it('certs client refuses terminal escapes after a slash in the domain', async () => {
  const out = join(dir, 'certs');
  const r = await runCli(['certs', 'client', `mallory@qt-t\u00e9st.com/${ESC}[2J${ESC}[H${ESC}[32m204 all good`, '--dir', out]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/is not an email address/);
  expect(r.stderr).not.toContain(ESC);
  expect(existsSync(out)).toBe(false);
});

it('users add refuses a forged line after a slash, and an invisible word joiner', async () => {
  const db = join(dir, 'x.db');
  for (const email of ['a@b\u00e9.co/\nFORGED LINE', 'valid_user@qt-test.com\u2060']) {
    const r = await runCli(['users', 'add', email, '--db', db]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not an email address/);
    expect(r.stderr).not.toContain('\nFORGED');
  }
});
