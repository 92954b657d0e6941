// Issue #12, the server's side: `serve --crl` picks up a new CRL when the
// file changes, says when a CRL is out of date and acts on --expired-crl,
// and exports the expiry of its certificate, CA and CRL as gauges.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { takePacket } from '../helpers/packets.ts';
import { VALID_USER } from '../helpers/pki.ts';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';
import { openssl } from '../helpers/tls.ts';

const fx = serveFixture();

/** A CRL from the test CA: `revoking` the test PKI's revoked certificate or nothing, due after `seconds`. */
async function makeCrl(name: string, revoking: boolean, seconds = 30 * 86_400): Promise<string> {
  const dir = fx.pki.dir;
  const index = revoking ? join(dir, 'index.txt') : join(dir, `${name}.index`);
  if (!revoking) writeFileSync(index, '');
  writeFileSync(join(dir, `${name}.cnf`), readFileSync(join(dir, 'crl.cnf'), 'utf8').replace(`${dir}/index.txt`, index));
  const out = join(dir, `${name}.crl`);
  const due = new Date(Date.now() + seconds * 1000).toISOString().replace(/[-:T]|\.\d+/g, ''); // YYYYMMDDHHMMSSZ
  const r = await openssl('ca', '-config', join(dir, `${name}.cnf`), '-keyfile', join(dir, 'ca.key'), '-cert', fx.pki.ca, '-gencrl', '-crl_nextupdate', due, '-out', out);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

function patcher(url: string, who: { cert: string; key: string }) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(fx.pki.ca), cert: readFileSync(who.cert), key: readFileSync(who.key) });
  const patch = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(`${url}/api/client`, { method: 'PATCH', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject).end();
    });
  return { patch, close: () => agent.destroy() };
}

describe('serve --crl', () => {
  it('reloads the CRL when its file is replaced, closing connections it revokes', async () => {
    const live = join(fx.pki.dir, 'watched.crl');
    renameSync(await makeCrl('none', false), live);
    const { url, db, proc } = await startServe(fx, '--crl', live);
    await runCli(['users', 'add', 'revoked@qt-test.com', '--db', db]);
    const doomed = patcher(url, fx.pki.revoked);
    expect((await doomed.patch()).status).toBe(204);
    await takePacket(fx.sink, 'revoked@qt-test.com');
    renameSync(await makeCrl('some', true), live); // as `certs crl` or a deploy tool would: a new file, renamed into place
    await proc.waitFor('stderr', /the CRL .*watched\.crl changed: reloaded; closed 1 connection of revoked certificates/);
    const after = await doomed.patch();
    expect(JSON.parse(after.body)).toMatchObject({ code: 'certificate_invalid', reason: 'CERT_REVOKED' });
    doomed.close();
  });

  it('refuses every client once the CRL is past its next update, and says so', async () => {
    const crl = await makeCrl('short', false, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const { url, proc } = await startServe(fx, '--crl', crl);
    expect(proc.stderr).toMatch(/the CRL .*short\.crl is past its next update .*every client is refused/);
    const c = patcher(url, fx.pki.client);
    expect(JSON.parse((await c.patch()).body)).toMatchObject({ code: 'certificate_invalid', reason: 'CRL_HAS_EXPIRED' });
    c.close();
  });

  it('--expired-crl accept goes on with the old list: revoked clients still refused', async () => {
    const crl = await makeCrl('short-revoking', true, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const { url, db, proc } = await startServe(fx, '--crl', crl, '--expired-crl', 'accept');
    await runCli(['users', 'add', 'revoked@qt-test.com', '--db', db]);
    expect(proc.stderr).toMatch(/past its next update .*revoked certificates are still refused/);
    const ok = patcher(url, fx.pki.client);
    expect((await ok.patch()).status).toBe(204);
    await takePacket(fx.sink, VALID_USER);
    const revoked = patcher(url, fx.pki.revoked);
    expect(JSON.parse((await revoked.patch()).body)).toMatchObject({ code: 'certificate_invalid', reason: 'CERT_REVOKED' });
    ok.close();
    revoked.close();
  });

  it('exports the expiry of its certificate, CA and CRL as gauges', async () => {
    const crl = await makeCrl('gauges', false);
    const { proc } = await startServe(fx, '--crl', crl, '--metrics', '127.0.0.1:0');
    const m = await proc.waitFor('stderr', /metrics on (http:\S+)/);
    const text = await (await fetch(m[1] as string)).text();
    for (const which of ['server', 'ca', 'crl']) {
      const at = Number(new RegExp(`qtstatus_certificate_expiry_timestamp_seconds\\{which="${which}"\\} (\\d+)`).exec(text)?.[1]);
      expect(at * 1000).toBeGreaterThan(Date.now());
    }
  });
});
