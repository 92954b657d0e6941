// Issue #10, defect 8: /healthz said 200 while the disk was full. A small
// tmpfs the test mounts (root only; skipped otherwise) holds the database;
// the test fills it, then frees it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { VALID_USER } from '../helpers/pki.ts';
import { serveFixture } from '../helpers/serve-fixture.ts';

const fx = serveFixture();
const mnt = join('/tmp', `qt-disk-${process.pid}`);
mkdirSync(mnt, { recursive: true });
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]).status === 0;
afterAll(() => {
  for (const p of fx.procs) p.kill('SIGKILL');
  if (mounted) spawnSync('umount', ['-l', mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

describe.skipIf(!mounted)(`serve with the disk full${mounted ? '' : ' (skipped: mounting a tmpfs needs root)'}`, () => {
  it('/healthz says so, and says ok again once there is room', async () => {
    const db = join(mnt, 'status.db');
    expect((await runCli(['users', 'add', VALID_USER, '--db', db])).code).toBe(0);
    const proc = new CliProcess(['serve', '--host', '127.0.0.1', '--port', '0', '--db', db, '--cert', fx.pki.server.cert, '--key', fx.pki.server.key, '--ca', fx.pki.ca, '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`]);
    fx.procs.push(proc);
    const url = (await proc.waitFor('stderr', /serving (https:\/\/127\.0\.0\.1:\d+)/))[1]?.replace('127.0.0.1', 'localhost');
    const health = () => request(`${url}/healthz`, { ca: fx.pki.ca, method: 'GET' });
    expect((await health()).status).toBe(200);

    const filler = join(mnt, 'filler');
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' }); // until ENOSPC
    const full = await health();
    expect(full.status).toBe(503);
    expect(full.json()).toMatchObject({ code: 'store_unavailable', status: 'degraded', message: expect.stringMatching(/^the disk is full \(\d+ KiB free\)$/) });
    const update = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    expect([204, 503]).toContain(update.status); // SQLite may still have room in its WAL; either way no crash

    rmSync(filler);
    const patched = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    expect(patched.status).toBe(204);
    expect((await health()).json()).toEqual({ status: 'ok' });
  });
});
