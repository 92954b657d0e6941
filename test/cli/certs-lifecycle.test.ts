// Issue #12 end to end: the real binary records, revokes, re-issues the CRL,
// renews, bundles and checks, and real peers judge the result: `openssl crl
// -verify`, `openssl verify -crl_check`, nginx with `ssl_crl`, and curl
// against `qtstatus serve --crl` reloaded by SIGHUP. Everything on 127.0.0.1.
import { copyFile, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request, Agent } from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { hasNginx, startNginx } from '../helpers/nginx.ts';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';
import { hasCurl, run, tempDir } from '../helpers/tls.ts';
import { crlVerifies, openssl, verifyWithCrl } from '../pki/peers.ts';

let root: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir: root, remove } = await tempDir('qtstatus-lifecycle-')));
afterAll(() => remove());

const certs = (...args: string[]) => runCli(['certs', ...args]);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** curl with a client certificate; the body and, on the last line, the HTTP status. */
async function curl(url: string, ca: string, cert: string, key: string, method = 'GET'): Promise<{ status: number; body: string; code: number | null; stderr: string }> {
  const port = new URL(url).port;
  const r = await run('curl', ['-sS', '--max-time', '10', '-X', method, '--resolve', `localhost:${port}:127.0.0.1`, '--cacert', ca, '--cert', cert, '--key', key, '-w', '\n%{http_code}', url]);
  const lines = r.stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n'), code: r.code, stderr: r.stderr };
}

describe('certs init, list, revoke, crl, check, renew (openssl as the judge)', () => {
  let dir: string;
  const f = (name: string) => join(dir, name);
  beforeAll(async () => {
    dir = join(root, 'ca');
  });

  it('init explains once which files go where; list shows what was issued', async () => {
    const first = await certs('init', '--dir', dir, '--key-type', 'ecdsa-p256');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('which files go where (said once, for a new CA):');
    expect(first.stderr).toMatch(/keep in .*ca, copy nowhere: ca\.key/);
    expect(first.stderr).toContain('the server:  server.crt server.key ca.crt ca.crl    qtstatus certs bundle server DIR');
    const again = await certs('init', '--dir', dir, '--force');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('which files go where');
    expect((await certs('client', 'alice@example.org', '--dir', dir, '-q')).code).toBe(0);

    const list = await certs('list', '--dir', dir);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^identity +role +serial +expires +days +state +file$/);
    expect(rows.slice(1).map((r) => r.split(/ {2,}/)[5]?.replace(/ [0-9A-F]{8}…$/, ' …'))).toEqual(['replaced by …', 'replaced by …', 'valid', 'valid', 'valid']);
    expect(list.stdout).toMatch(/alice@example\.org +client +[0-9A-F]{40} +\d{4}-\d\d-\d\d +36[45] +valid +.*alice@example\.org\.crt\n/);
    const json = JSON.parse((await certs('list', '--dir', dir, '--json')).stdout);
    expect(json).toMatchObject({ record: f('ca-index.json'), recorded: true, unrecorded: [] });
    expect(json.certificates.map((c: { identity: string; status: string }) => [c.identity, c.status])).toEqual([
      ['localhost', 'replaced'],
      ['valid_user@qt-test.com', 'replaced'],
      ['localhost', 'valid'],
      ['valid_user@qt-test.com', 'valid'],
      ['alice@example.org', 'valid'],
    ]);
  });

  it('revoke: openssl crl -verify accepts the new CRL, openssl verify -crl_check refuses the certificate', async () => {
    const r = await certs('revoke', 'alice@example.org', '--dir', dir, '--reason', 'key-compromise');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^revoked alice@example\.org \(serial [0-9A-F]{40}, client, .*alice@example\.org\.crt\): keyCompromise\n/);
    expect(r.stderr).toMatch(/wrote .*ca\.crl: CRL number 2, 1 revoked, next update \d{4}-\d\d-\d\d \(in 90 days\)\n/);
    const v = await crlVerifies(f('ca.crl'), f('ca.crt'));
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain('verify OK');
    const refused = await verifyWithCrl(f('alice@example.org.crt'), f('ca.crt'), f('ca.crl'));
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/error 23 at 0 depth lookup: certificate revoked/);
    expect((await verifyWithCrl(f('client.crt'), f('ca.crt'), f('ca.crl'))).code).toBe(0);
    expect((await openssl('crl', '-in', f('ca.crl'), '-noout', '-text')).stdout).toContain('Key Compromise');
    const list = JSON.parse((await certs('list', '--dir', dir, '--json')).stdout);
    expect(list.certificates.find((c: { identity: string }) => c.identity === 'alice@example.org')).toMatchObject({ status: 'revoked', revoked: { reason: 'keyCompromise' } });
  });

  it('crl re-issues with the next number; check exits 1 when the CRL is due, 0 otherwise', async () => {
    const r = await certs('crl', '--dir', dir, '--next-update', '7d', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).crl).toMatchObject({ number: 3, revoked: 1, path: f('ca.crl') });
    expect((await crlVerifies(f('ca.crl'), f('ca.crt'))).code).toBe(0);
    const due = await certs('check', '--dir', dir);
    expect(due.code).toBe(1);
    expect(due.stdout).toMatch(/^DUE  crl +the CRL \(number 3\): .*ca\.crl next update \d{4}-\d\d-\d\d \(in 7 days\)$/m);
    expect(due.stdout).toMatch(/^ok   certificate valid_user@qt-test\.com: /m);
    expect(due.stdout).not.toContain('alice@example.org'); // revoked: not in use
    expect(due.stderr).toMatch(/^qtstatus: 1 expires within 30d: the CRL \(number 3\) \(.*ca\.crl, in 7 days\) \(qtstatus certs crl\)\n$/);
    const soon = await certs('check', '--dir', dir, '--within', '5d', '--json');
    expect(soon.code).toBe(0);
    expect(JSON.parse(soon.stdout)).toMatchObject({ ok: true, due: [] });
    // The period chosen sticks: the next CRL is current for 7 days too.
    expect((await certs('crl', '--dir', dir)).stderr).toMatch(/CRL number 4, 1 revoked, .*\(in 7 days\)/);
    expect((await certs('crl', '--dir', dir, '--next-update', '90d', '-q')).stderr).toBe('');
  });

  it('renew: a new certificate for the revoked identity that openssl accepts with the CRL', async () => {
    const r = await certs('renew', f('alice@example.org.crt'), '--dir', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^renewed .*alice@example\.org\.crt: alice@example\.org, serial [0-9A-F]{40} → [0-9A-F]{40}, until \d{4}-\d\d-\d\d \(new key .*alice@example\.org\.key\)\n$/);
    const ok = await verifyWithCrl(f('alice@example.org.crt'), f('ca.crt'), f('ca.crl'));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const within = await certs('renew', '--expiring-within', '400d', '--dir', dir, '--reuse-key', '--json');
    expect(within.code, within.stderr).toBe(0);
    expect(JSON.parse(within.stdout).renewed.map((x: { identity: string; keyReused: boolean }) => [x.identity, x.keyReused]).sort()).toEqual([
      ['alice@example.org', true],
      ['localhost', true],
      ['valid_user@qt-test.com', true],
    ]);
  });

  it('bundle: what the server needs and never the CA key', async () => {
    const out = join(root, 'srv');
    const r = await certs('bundle', 'server', out, '--dir', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote ${out}: server.crt server.key ca.crt ca.crl (not the CA key)`);
    expect(r.stderr).toContain(`qtstatus serve --cert ${join(out, 'server.crt')} --key ${join(out, 'server.key')} --ca ${join(out, 'ca.crt')} --crl ${join(out, 'ca.crl')}`);
    expect((await readdir(out)).sort()).toEqual(['ca.crl', 'ca.crt', 'server.crt', 'server.key']);
    const client = await certs('bundle', 'client', join(root, 'alice'), '--dir', dir, '--cert', f('alice@example.org.crt'), '--json');
    expect(JSON.parse(client.stdout).files).toEqual({ cert: join(root, 'alice', 'alice@example.org.crt'), key: join(root, 'alice', 'alice@example.org.key'), ca: join(root, 'alice', 'ca.crt'), crl: join(root, 'alice', 'ca.crl') });
    const here = await certs('bundle', 'server', dir, '--dir', dir);
    expect(here.code).toBe(2);
    expect(here.stderr).toContain("is the CA's directory (a bundle is what leaves it");
  });
});

describe('certs lifecycle: bad input names the file and writes nothing', () => {
  let dir: string;
  let other: string;
  beforeAll(async () => {
    dir = join(root, 'bad');
    other = join(root, 'bad-other');
    for (const d of [dir, other]) expect((await certs('init', '--dir', d, '--key-type', 'ecdsa-p256', '-q')).code).toBe(0);
  });
  const snapshot = async () => {
    const out: Record<string, string> = {};
    for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), 'latin1');
    return out;
  };

  it.each([
    [['revoke', 'nobody@example.org'], 1, /^qtstatus: no certificate for "nobody@example\.org" in .*ca-index\.json \(`qtstatus certs list` shows what is recorded; `qtstatus certs revoke FILE` records/],
    [['revoke', '--serial', 'ABCDEF'], 1, /^qtstatus: no certificate with serial ABCDEF in .*ca-index\.json/],
    [['revoke', '--serial', 'xyz'], 2, /"xyz" is not a serial number/],
    [['revoke', 'a@b.c', '--serial', 'AB'], 2, /give a@b\.c or --serial, not both/],
    [['revoke'], 2, /what to revoke: give an EMAIL, a certificate FILE or --serial HEX/],
    [['revoke', 'localhost', '--reason', 'lost'], 2, /"lost" is not an RFC 5280 revocation reason \(unspecified, keyCompromise/],
    [['revoke', 'localhost', '--reason', 'removeFromCRL'], 2, /is not an RFC 5280 revocation reason/],
    [['crl', '--next-update', '10s'], 2, /under a minute/],
    [['renew'], 2, /what to renew: give a certificate FILE or --expiring-within SPAN/],
    [['check', '--within', 'soon'], 2, /"soon" is not a time span/],
    [['bundle', 'proxy', '/tmp/x'], 2, /value 'proxy' is invalid for argument 'side'\. Allowed choices are server, client/],
  ] as const)('certs %j: exit %i', async (args, code, message) => {
    const before = await snapshot();
    const r = await certs(...args, '--dir', dir);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(code);
    expect(await snapshot()).toEqual(before);
  });

  it('a CA key that does not match, another CA\'s certificate, a corrupt record or CRL', async () => {
    const before = await snapshot();
    const key = await certs('revoke', 'localhost', '--dir', dir, '--ca-key', join(other, 'ca.key'));
    expect(key.code).toBe(1);
    expect(key.stderr).toContain(`qtstatus: CA key ${join(other, 'ca.key')} does not belong to ${join(dir, 'ca.crt')}`);
    for (const cmd of ['revoke', 'renew']) {
      const foreign = await certs(cmd, join(other, 'client.crt'), '--dir', dir);
      expect(foreign.code, cmd).toBe(1);
      expect(foreign.stderr).toMatch(new RegExp(`^qtstatus: ${join(other, 'client.crt')} was not issued by the CA ${join(dir, 'ca.crt')}: it is issued by "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}"`));
    }
    expect(await snapshot()).toEqual(before);
    const record = await readFile(join(dir, 'ca-index.json'));
    await writeFile(join(dir, 'ca-index.json'), '{"version": 1, "ca": ');
    for (const args of [['list'], ['check'], ['revoke', 'localhost'], ['client', 'x@example.org']]) {
      const r = await certs(...args, '--dir', dir);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^qtstatus: ${join(dir, 'ca-index.json')} is corrupt: .*\\(restore it from a backup; nothing was written\\)\\n$`));
    }
    await writeFile(join(dir, 'ca-index.json'), record);
    const crl = await readFile(join(dir, 'ca.crl'));
    await copyFile(join(other, 'ca.crl'), join(dir, 'ca.crl'));
    for (const args of [['revoke', 'localhost'], ['crl'], ['check']]) {
      const r = await certs(...args, '--dir', dir);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`qtstatus: cannot use the CRL ${join(dir, 'ca.crl')}: its signature does not verify with the CA certificate`);
    }
    await writeFile(join(dir, 'ca.crl'), crl);
    expect(await snapshot()).toEqual(before);
  });

  it('a directory made before the record: list says so, revoke FILE records and revokes', async () => {
    const old = join(root, 'old');
    expect((await certs('init', '--dir', old, '--key-type', 'ecdsa-p256', '-q')).code).toBe(0);
    const { rm } = await import('node:fs/promises');
    await rm(join(old, 'ca-index.json'));
    await rm(join(old, 'ca.crl'));
    const list = await certs('list', '--dir', old);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toContain(`${join(old, 'ca-index.json')} does not exist yet: certificates made before qtstatus recorded them are not recorded`);
    expect(list.stderr).toContain(`not recorded (made before the record; found in ${old} by the CA's signature`);
    expect(list.stdout).toMatch(/valid_user@qt-test\.com +client .* valid +.*client\.crt/);
    const r = await certs('revoke', join(old, 'client.crt'), '--dir', old, '--reason', 'superseded');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`recorded ${join(old, 'client.crt')}: made before the record, signed by this CA`);
    expect((await verifyWithCrl(join(old, 'client.crt'), join(old, 'ca.crt'), join(old, 'ca.crl'))).code).not.toBe(0);
    expect((await verifyWithCrl(join(old, 'server.crt'), join(old, 'ca.crt'), join(old, 'ca.crl'))).code).toBe(0);
  });
});

describe('nginx with ssl_crl refuses what certs revoke revoked, and takes the renewed certificate', () => {
  let dir: string;
  let nginx: ChildProcess | undefined;
  afterAll(() => void nginx?.kill('SIGKILL'));

  it.skipIf(!hasNginx || !hasCurl)(`curl through nginx${hasNginx && hasCurl ? '' : ' (skipped: nginx or curl is missing)'}`, async () => {
    dir = join(root, 'nginx-ca');
    expect((await certs('init', '--dir', dir, '--key-type', 'ecdsa-p256', '-q')).code).toBe(0);
    expect((await certs('client', 'lost@example.org', '--dir', dir, '-q')).code).toBe(0);
    expect((await certs('revoke', 'lost@example.org', '--dir', dir, '--reason', 'keyCompromise', '-q')).code).toBe(0);
    const port = await freePort();
    const f = (n: string) => join(dir, n);
    nginx = await startNginx(join(root, 'nginx'), port, `
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${f('server.crt')};
    ssl_certificate_key ${f('server.key')};
    ssl_client_certificate ${f('ca.crt')};
    ssl_verify_client on;
    ssl_crl ${f('ca.crl')};
    location / { default_type text/plain; return 200 "$ssl_client_s_dn\\n"; }
  }`);
    const url = `https://localhost:${port}/`;
    const ok = await curl(url, f('ca.crt'), f('client.crt'), f('client.key'));
    expect(ok, ok.stderr).toMatchObject({ status: 200, body: 'CN=valid_user@qt-test.com\n' });
    const revoked = await curl(url, f('ca.crt'), f('lost@example.org.crt'), f('lost@example.org.key'));
    expect(revoked.status).toBe(400);
    expect(revoked.body).toContain('The SSL certificate error');
    expect((await certs('renew', f('lost@example.org.crt'), '--dir', dir, '-q')).code).toBe(0);
    const renewed = await curl(url, f('ca.crt'), f('lost@example.org.crt'), f('lost@example.org.key'));
    expect(renewed, renewed.stderr).toMatchObject({ status: 200, body: 'CN=lost@example.org\n' });
  });
});

describe('qtstatus serve --crl refuses a certificate certs revoke revoked, after SIGHUP, without a restart', () => {
  const fx = serveFixture();

  it.skipIf(!hasCurl)(`curl: 204, revoke + SIGHUP: 400 with the reason, renewed: 204${hasCurl ? '' : ' (skipped: curl is missing)'}`, async () => {
    const dir = fx.pki.dir;
    const f = (n: string) => join(dir, n);
    expect((await certs('client', 'lost@qt-test.com', '--dir', dir, '-q')).code).toBe(0);
    // The server gets a bundle, as it would in production; the CA key stays in dir.
    const srv = join(dir, 'srv');
    expect((await certs('bundle', 'server', srv, '--dir', dir, '-q')).code).toBe(0);
    const { proc, url, db } = await startServe(fx, '--crl', join(srv, 'ca.crl'));
    expect((await runCli(['users', 'add', 'lost@qt-test.com', '--db', db])).code).toBe(0);
    const api = `${url}/api/client`;
    const lost = [f('lost@qt-test.com.crt'), f('lost@qt-test.com.key')] as const;
    const before = await curl(api, f('ca.crt'), ...lost, 'PATCH');
    expect(before.status, before.body + before.stderr).toBe(204);

    // An open keep-alive connection of the certificate, which the reload must close.
    const agent = new Agent({ keepAlive: true, ca: await readFile(f('ca.crt')), cert: await readFile(lost[0]), key: await readFile(lost[1]) });
    const closed = new Promise<void>((resolve) => {
      const req = request(api, { method: 'PATCH', agent, lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never) }, (res) => {
        res.resume();
        res.socket.once('close', () => resolve());
      });
      req.end();
    });

    const r = await certs('revoke', 'lost@qt-test.com', '--dir', dir, '--reason', 'keyCompromise');
    expect(r.code, r.stderr).toBe(0);
    // Deploy the new CRL as a copy tool would (a new file renamed into place), then SIGHUP.
    await copyFile(f('ca.crl'), join(srv, 'ca.crl.new'));
    await rename(join(srv, 'ca.crl.new'), join(srv, 'ca.crl'));
    const mark = proc.stderr.length;
    proc.child.kill('SIGHUP');
    await proc.waitFor('stderr', /SIGHUP: reloaded the certificate, key, CA and CRL/);
    await closed;
    agent.destroy();
    expect(proc.stderr.slice(mark)).not.toMatch(/kept the old/);

    const after = await curl(api, f('ca.crt'), ...lost, 'PATCH');
    expect(after.status).toBe(400);
    expect(JSON.parse(after.body)).toMatchObject({ code: 'certificate_invalid', reason: 'CERT_REVOKED', message: expect.stringContaining('keyCompromise') });
    // Others are not affected.
    expect((await curl(api, f('ca.crt'), fx.pki.client.cert, fx.pki.client.key, 'PATCH')).status).toBe(204);

    const renew = await certs('renew', lost[0], '--dir', dir, '-q');
    expect(renew.code, renew.stderr).toBe(0);
    const renewed = await curl(api, f('ca.crt'), ...lost, 'PATCH');
    expect(renewed.status, renewed.body).toBe(204);
    expect((await verifyWithCrl(lost[0], f('ca.crt'), join(srv, 'ca.crl'))).code).toBe(0);
  });

  it('a server bundle alone is enough to serve', async () => {
    const srv = join(fx.pki.dir, 'srv2');
    expect((await certs('bundle', 'server', srv, '--dir', fx.pki.dir, '-q')).code).toBe(0);
    const db = join(fx.pki.dir, 'bundle.db');
    expect((await runCli(['users', 'add', 'valid_user@qt-test.com', '--db', db])).code).toBe(0);
    const proc = new CliProcess([
      'serve', '--host', '127.0.0.1', '--port', '0', '--db', db,
      '--cert', join(srv, 'server.crt'), '--key', join(srv, 'server.key'), '--ca', join(srv, 'ca.crt'), '--crl', join(srv, 'ca.crl'),
      '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`,
    ]);
    fx.procs.push(proc);
    const m = await proc.waitFor('stderr', /serving (https:\/\/127\.0\.0\.1:\d+)/);
    const url = `${(m[1] as string).replace('127.0.0.1', 'localhost')}/api/client`;
    const ping = await runCli(['ping', url, '--cert', fx.pki.client.cert, '--key', fx.pki.client.key, '--ca', join(srv, 'ca.crt')]);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/^204 No Content/);
  });
});
