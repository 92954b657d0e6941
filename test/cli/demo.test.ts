import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

it('qtstatus demo runs the whole loop on loopback, shows every outcome, and cleans up', async () => {
  const r = await runCli(['demo'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  const dir = /in (\/\S+qtstatus-demo-\S+)/.exec(r.stdout)?.[1] as string;
  expect(dir).toBeDefined();
  expect(existsSync(dir)).toBe(false);
  expect(r.stdout).toMatch(/204/);
  expect(r.stdout).toContain('CN must be a valid email address');
  expect(r.stdout).toContain('User unknown');
  expect(r.stdout).toContain('No required SSL certificate was sent');
  expect(r.stdout).toMatch(/User Email {3}: valid_user@qt-test\.com/);
  expect(r.stdout).toMatch(/valid_user@qt-test\.com +\d{4}-\d\d-\d\dT[\d:.]+Z +\d+s ago +127\.0\.0\.1 +\d+/);
  expect(r.stdout).toContain('demo finished');
}, 90_000);
