// `qtstatus version` (issue #13): the version, the Node it runs on, the
// platform and the build; `--version` stays the bare version.
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

it('says what runs, as text and as JSON', async () => {
  const json = await runCli(['version', '--json']);
  expect(json.code).toBe(0);
  const info = JSON.parse(json.stdout);
  expect(info).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.versions.node, platform: `${process.platform}-${process.arch}`, standalone: false });
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  expect(info.build).toMatchObject({ commit: head, from: 'sources' });
  const text = await runCli(['version']);
  expect(text.stdout).toMatch(/^qtstatus \d+\.\d+\.\d+\nnode     \d+/);
  expect((await runCli(['--version'])).stdout.trim()).toBe(info.version);
});
