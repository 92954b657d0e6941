import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { takePacket } from '../helpers/packets.ts';
import { serveFixture } from '../helpers/serve-fixture.ts';
import { docNginxConfig, hasNginx, startNginx } from '../helpers/nginx.ts';
import { VALID_USER } from '../helpers/pki.ts';

const fx = serveFixture();

let n = 0;
async function serveBehindProxy(trust: string, extra: string[] = []): Promise<{ url: string; db: string; proc: CliProcess }> {
  const db = join(fx.pki.dir, `proxy${n++}.db`);
  await runCli(['users', 'add', VALID_USER, '--db', db]);
  const proc = new CliProcess(['serve', '--trust-proxy', trust, '--host', '127.0.0.1', '--port', '0', '--db', db, '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`, ...extra]);
  fx.procs.push(proc);
  const m = await proc.waitFor('stderr', /serving (http:\/\/127\.0\.0\.1:\d+)/);
  return { url: m[1] as string, db, proc };
}

/** nginx's $ssl_client_escaped_cert of a certificate file. */
const escapedCert = (file: string) => encodeURIComponent(readFileSync(file, 'utf8'));
const forwarded = (file: string) => [`X-Client-Cert: ${escapedCert(file)}`, 'X-Client-Verify: SUCCESS'];

/** A plain-HTTP PATCH with raw header lines (so a header can appear twice). */
function rawPatch(url: string, headerLines: string[]): Promise<{ status: number; body: any }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () => {
      s.write(['PATCH /api/client HTTP/1.1', 'Host: x', 'Connection: close', 'Content-Length: 0', ...headerLines, '', ''].join('\r\n'));
    });
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('error', reject);
    s.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      const body = text.split('\r\n\r\n')[1] ?? '';
      resolve({ status, body: body ? JSON.parse(body) : undefined });
    });
  });
}


describe('serve --trust-proxy (plain HTTP behind nginx)', () => {
  it('takes the identity from the forwarded certificate, and IP and port from a trusted proxy', async () => {
    const { url, db } = await serveBehindProxy('127.0.0.0/8');
    const r = await rawPatch(url, [...forwarded(fx.pki.client.cert), 'X-Real-IP: 192.0.2.44', 'X-Real-Port: 51515', 'X-Forwarded-For: 192.0.2.44']);
    expect(r.status).toBe(204);
    expect(await takePacket(fx.sink, VALID_USER)).toMatchObject({ ip: '192.0.2.44', port: 51515 });
    const shown = JSON.parse((await runCli(['users', 'show', VALID_USER, '--json', '--db', db])).stdout);
    expect(shown).toMatchObject({ ip: '192.0.2.44', port: 51515 });
  });

  // Issue #10, defect 1: what DN text cut by a regular expression got wrong.
  it('takes one CN from the certificate: an escaped comma in the subject forges nothing', async () => {
    const { url } = await serveBehindProxy('127.0.0.1');
    const forged = await rawPatch(url, forwarded(fx.pki.commaCn.cert));
    expect(forged.status).toBe(403); // attacker@qt-test.com, not valid_user: unknown here
    expect(forged.body.code).toBe('user_unknown');
    expect((await rawPatch(url, forwarded(fx.pki.noCn.cert))).body.code).toBe('invalid_cn');
    expect((await rawPatch(url, forwarded(fx.pki.twoCns.cert))).body.code).toBe('multiple_cn');
    expect((await rawPatch(url, forwarded(fx.pki.badCn.cert))).body.code).toBe('invalid_cn');
  });

  it.each([
    ['no identity headers', [], 400, 'no_certificate'],
    ['no certificate (NONE)', ['X-Client-Verify: NONE'], 400, 'no_certificate'],
    ['nginx\'s refusal', ['X-Client-Verify: FAILED:certificate has expired'], 400, 'certificate_invalid'],
    ['a certificate nginx did not vouch for', () => [`X-Client-Cert: ${escapedCert(fx.pki.client.cert)}`], 400, 'bad_proxy_header'],
    ['SUCCESS without a certificate', ['X-Client-Verify: SUCCESS'], 400, 'bad_proxy_header'],
    ['a verdict nginx never gives', () => [`X-Client-Cert: ${escapedCert(fx.pki.client.cert)}`, 'X-Client-Verify: OK'], 400, 'bad_proxy_header'],
    ['a certificate that is not one', ['X-Client-Cert: -----BEGIN%20CERTIFICATE-----%0Agarbage', 'X-Client-Verify: SUCCESS'], 400, 'bad_proxy_header'],
    ['an expired certificate that nginx let through', () => forwarded(fx.pki.expired.cert), 400, 'certificate_invalid'],
    ['the old CN header, without --legacy-cn-header', [`X-Subject-CN: ${VALID_USER}`], 400, 'no_certificate'],
    ['a header twice', () => [...forwarded(fx.pki.client.cert), 'X-Client-Verify: SUCCESS'], 400, 'duplicate_header'],
    ['an IP that is not one', () => [...forwarded(fx.pki.client.cert), 'X-Real-IP: nowhere'], 400, 'bad_proxy_header'],
    ['a port that is not one', () => [...forwarded(fx.pki.client.cert), 'X-Real-Port: 70000'], 400, 'bad_proxy_header'],
    ['an unregistered user', () => forwarded(fx.pki.unknown.cert), 403, 'user_unknown'],
  ])('answers %s from a trusted proxy', async (_what, headers, status, code) => {
    const { url } = await serveBehindProxy('127.0.0.1');
    const r = await rawPatch(url, typeof headers === 'function' ? headers() : headers);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
  });

  it('names nginx\'s reason for a refused certificate', async () => {
    const { url } = await serveBehindProxy('127.0.0.1');
    const r = await rawPatch(url, ['X-Client-Verify: FAILED:certificate revoked']);
    expect(r.body).toEqual({ code: 'certificate_invalid', reason: 'CERT_REVOKED', message: 'The SSL certificate error: certificate has been revoked (CERT_REVOKED)' });
  });

  it('refuses a certificate revoked by --crl', async () => {
    const { url, db } = await serveBehindProxy('127.0.0.1', ['--crl', fx.pki.crl, '--ca', fx.pki.ca]);
    await runCli(['users', 'add', 'revoked@qt-test.com', '--db', db]);
    const r = await rawPatch(url, forwarded(fx.pki.revoked.cert));
    expect(r.body).toMatchObject({ code: 'certificate_invalid', reason: 'CERT_REVOKED' });
    expect((await rawPatch(url, forwarded(fx.pki.client.cert))).status).toBe(204);
    await takePacket(fx.sink, VALID_USER);
  });

  describe('--legacy-cn-header (the old system\'s X-Subject-CN)', () => {
    it('warns at start', async () => {
      const { proc } = await serveBehindProxy('127.0.0.1', ['--legacy-cn-header']);
      expect(proc.stderr).toMatch(/--legacy-cn-header: .*can forge it/);
    });

    it.each([
      ['a CN', [`X-Subject-CN: ${VALID_USER}`, `X-Subject-DN: CN=${VALID_USER}`], 204, undefined],
      ['no identity headers', [], 400, 'no_certificate'],
      ['a CN that is not an email', ['X-Subject-CN: not_an_email'], 400, 'invalid_cn'],
      ['a DN without a CN', ['X-Subject-DN: O=qtstatus'], 400, 'invalid_cn'],
      ['a DN with two CNs', [`X-Subject-CN: ${VALID_USER}`, `X-Subject-DN: CN=${VALID_USER},CN=other@qt-test.com`], 400, 'multiple_cn'],
      ['a header twice', [`X-Subject-CN: ${VALID_USER}`, 'X-Subject-CN: other@qt-test.com'], 400, 'duplicate_header'],
    ])('answers %s', async (_what, headers, status, code) => {
      const { url } = await serveBehindProxy('127.0.0.1', ['--legacy-cn-header']);
      const r = await rawPatch(url, headers);
      expect(r.status).toBe(status);
      expect(r.body?.code).toBe(code);
      if (status === 204) await takePacket(fx.sink, VALID_USER); // leave the sink as we found it
    });

    it('unescapes nginx\'s RFC 2253 form of the CN (\\+, \\C3\\BC)', async () => {
      const { url, db } = await serveBehindProxy('127.0.0.1', ['--legacy-cn-header']);
      await runCli(['users', 'add', 'user+tag@qt-test.com', 'o.brien@b\u00fccher.example', '--db', db]);
      const plus = await rawPatch(url, ['X-Subject-CN: user\\+tag@qt-test.com', 'X-Subject-DN: CN=user\\+tag@qt-test.com']);
      expect(plus.status).toBe(204);
      expect(await takePacket(fx.sink, 'user+tag@qt-test.com')).toMatchObject({ email: 'user+tag@qt-test.com' });
      const idn = await rawPatch(url, ['X-Subject-CN: o.brien@b\\C3\\BCcher.example']);
      expect(idn.status).toBe(204);
      const multi = await rawPatch(url, ['X-Subject-CN: user\\+tag@qt-test.com', 'X-Subject-DN: CN=a@qt-test.com+CN=b@qt-test.com']);
      expect(multi.body.code).toBe('multiple_cn');
    });
  });

  it('refuses identity headers from an address that is not trusted', async () => {
    const { url } = await serveBehindProxy('10.9.9.9');
    const r = await rawPatch(url, forwarded(fx.pki.client.cert));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ code: 'untrusted_proxy_headers', message: 'x-client-cert, x-client-verify accepted only from a trusted proxy' });
    const legacy = await rawPatch(url, [`X-Subject-CN: ${VALID_USER}`]);
    expect(legacy.body.code).toBe('untrusted_proxy_headers');
    const bare = await rawPatch(url, []);
    expect(bare.body.code).toBe('no_certificate');
  });

  it('refuses a malformed --trust-proxy as a usage error', async () => {
    const r = await runCli(['serve', '--trust-proxy', '10.0.0.0/99', '--udp-target', '127.0.0.1:9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/qtstatus: --trust-proxy: "10\.0\.0\.0\/99" is not an address or CIDR/);
    // Named the way it was given.
    const env = await runCli(['serve', '--udp-target', '127.0.0.1:9'], { env: { QTSTATUS_TRUST_PROXY: '10.0.0.0/99' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/qtstatus: QTSTATUS_TRUST_PROXY: "10\.0\.0\.0\/99" is not an address or CIDR/);
  });
});

describe.skipIf(!hasNginx)(`serve behind a real nginx${hasNginx ? '' : ' (skipped: nginx is not installed; .ci/run installs it)'}`, () => {
  let proxy: ChildProcess;
  let nginxUrl: string;
  let db: string;

  beforeAll(async () => {
    const upstream = await serveBehindProxy('127.0.0.1');
    db = upstream.db;
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const conf = docNginxConfig()
      .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
      .replace('/etc/qtstatus/server.crt', fx.pki.server.cert)
      .replace('/etc/qtstatus/server.key', fx.pki.server.key)
      .replace('/etc/qtstatus/ca.crt', fx.pki.ca)
      .replace('http://127.0.0.1:8000', upstream.url);
    proxy = await startNginx(join(fx.pki.dir, 'nginx'), port, conf);
    nginxUrl = `https://localhost:${port}/api/client`;
  });
  afterAll(() => proxy?.kill('SIGKILL'));

  it('records the client behind nginx with its own IP and source port', async () => {
    const r = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.client });
    expect(r.status).toBe(204);
    expect(await takePacket(fx.sink, VALID_USER)).toMatchObject({ ip: '127.0.0.1', port: r.localPort });
    const shown = JSON.parse((await runCli(['users', 'show', VALID_USER, '--json', '--db', db])).stdout);
    expect(shown.port).toBe(r.localPort);
  });

  it('records an address with a + behind nginx, as it would directly', async () => {
    const dir = join(fx.pki.dir, 'plus');
    const { makeClient } = await import('../../src/pki/make.ts');
    await makeClient({ dir: fx.pki.dir, identity: 'user+tag@qt-test.com', name: 'plus', days: 30, force: false });
    await runCli(['users', 'add', 'user+tag@qt-test.com', '--db', db]);
    const r = await request(nginxUrl, { ca: fx.pki.ca, cert: join(fx.pki.dir, 'plus.crt'), key: join(fx.pki.dir, 'plus.key') });
    expect(r.status, r.body + dir).toBe(204);
    expect(await takePacket(fx.sink, 'user+tag@qt-test.com')).toMatchObject({ port: r.localPort });
  });

  it('records the subject\'s one CN, however its other attributes read as DN text', async () => {
    const forged = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.commaCn });
    expect(forged.status).toBe(403);
    expect(forged.json().code).toBe('user_unknown');
    const noCn = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.noCn });
    expect(noCn.json().code).toBe('invalid_cn');
    const two = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.twoCns });
    expect(two.json().code).toBe('multiple_cn');
  });

  it('answers 400 for a CN that is not an email, 403 for an unknown user, and nginx 400 without a certificate', async () => {
    const bad = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.badCn });
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ code: 'invalid_cn', message: 'CN must be a valid email address' });
    const unknown = await request(nginxUrl, { ca: fx.pki.ca, ...fx.pki.unknown });
    expect(unknown.status).toBe(403);
    const none = await request(nginxUrl, { ca: fx.pki.ca });
    expect(none.status).toBe(400);
    expect(none.body).toContain('No required SSL certificate was sent');
  });
});
