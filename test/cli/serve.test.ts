import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { takePacket } from '../helpers/packets.ts';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';
import { VALID_USER } from '../helpers/pki.ts';

const fx = serveFixture();

const serve = (...extra: string[]) => startServe(fx, ...extra);

describe('qtstatus serve', () => {
  let url: string;
  let db: string;
  let proc: CliProcess;
  beforeAll(async () => ({ url, db, proc } = await serve()));
  const as = (who: { cert: string; key: string } | undefined, opts: Parameters<typeof request>[1] = {}) =>
    request(`${url}/api/client`, { ca: fx.pki.ca, ...who, ...opts });

  it('records a verified, registered user, answers 204 and announces the update', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const r = await as(fx.pki.client);
    expect(r.status).toBe(204);
    expect(r.body).toBe('');
    const p = await takePacket(fx.sink, VALID_USER);
    expect(p.ip).toBe('127.0.0.1');
    expect(p.port).toBe(r.localPort);
    expect(p.lastSeenNs).toBeGreaterThanOrEqual(before);
    const shown = await runCli(['users', 'show', VALID_USER, '--json', '--db', db]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ email: VALID_USER, lastSeenNs: p.lastSeenNs.toString(), ip: '127.0.0.1', port: r.localPort });
  });

  it('last seen never moves backwards across requests', async () => {
    const a = await as(fx.pki.client);
    const pa = await takePacket(fx.sink, VALID_USER);
    const b = await as(fx.pki.client);
    const pb = await takePacket(fx.sink, VALID_USER);
    expect([a.status, b.status]).toEqual([204, 204]);
    expect(pb.lastSeenNs).toBeGreaterThan(pa.lastSeenNs);
  });

  it.each([
    ['no certificate', undefined, 'no_certificate', 'No required SSL certificate was sent'],
    ['a CN that is not an email', 'badCn', 'invalid_cn', 'CN must be a valid email address'],
    ['two CNs', 'twoCns', 'multiple_cn', 'certificate subject has more than one CN'],
    ['a certificate from another CA', 'otherCa', 'certificate_invalid', /^The SSL certificate error: certificate is not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/],
    ['an expired certificate', 'expired', 'certificate_invalid', /certificate has expired \(CERT_HAS_EXPIRED\)/],
    ['a server certificate as client', 'server', 'certificate_invalid', /not for client authentication .*\(INVALID_PURPOSE\)/],
  ] as const)('answers 400 to %s', async (_what, who, code, message) => {
    const r = await as(who ? fx.pki[who] : undefined);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json().code).toBe(code);
    expect(r.json().message).toMatch(message);
  });

  it('answers 403 "User unknown" to a verified but unregistered user, and announces nothing', async () => {
    const r = await as(fx.pki.unknown);
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ code: 'user_unknown', message: 'User unknown' });
    await new Promise((res) => setTimeout(res, 100));
    expect(fx.sink.packets.find((p) => p.email === 'unknown@qt-test.com')).toBeUndefined();
  });

  it('answers 405 with Allow, 404, and 413 for a large body', async () => {
    const get = await as(fx.pki.client, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('PATCH');
    expect(get.json().code).toBe('method_not_allowed');
    const missing = await request(`${url}/nope`, { ca: fx.pki.ca, ...fx.pki.client });
    expect(missing.status).toBe(404);
    expect(missing.json().code).toBe('not_found');
    const big = await as(fx.pki.client, { body: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(big.json().code).toBe('payload_too_large');
    const chunked = await as(fx.pki.client, { body: 'y'.repeat(5000), headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
    const small = await as(fx.pki.client, { body: '{}', headers: { 'transfer-encoding': 'chunked' } });
    expect(small.status).toBe(204);
  });

  it('takes an absolute-form request target, and HTTP/1.0 clients (ALPN)', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('curl', ['-s', '--http1.0', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', fx.pki.ca, '--cert', fx.pki.client.cert, '--key', fx.pki.client.key, '-X', 'PATCH', `${url}/api/client`]).toString();
    expect(out).toBe('204');
    const port = Number(new URL(url).port);
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: require_(fx.pki.ca), cert: require_(fx.pki.client.cert), key: require_(fx.pki.client.key) });
    s.on('error', () => {});
    await new Promise((r) => s.once('secureConnect', r));
    s.write(`PATCH ${url}/api/client HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    let answer = '';
    s.on('data', (d) => (answer += d.toString()));
    await new Promise((r) => s.on('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 204/);
  });

  it('GET /healthz answers without a certificate', async () => {
    const r = await request(`${url}/healthz`, { ca: fx.pki.ca, method: 'GET' });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('keeps serving after garbage instead of a ClientHello and a stalled handshake', async () => {
    const port = Number(new URL(url).port);
    const junk = net.connect(port, '127.0.0.1');
    junk.on('error', () => {});
    junk.write(Buffer.from('GET / HTTP/1.1\r\n\r\n\x00\xff garbage'));
    const stalled = net.connect(port, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello that never ends
    const r = await as(fx.pki.client);
    expect(r.status).toBe(204);
    junk.destroy();
    stalled.destroy();
  });

  it('logs one JSON line per request with id, identity, status and duration', async () => {
    await as(fx.pki.client);
    await proc.waitFor('stdout', /"status":204/);
    const line = proc.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.status === 204);
    expect(line).toMatchObject({ method: 'PATCH', path: '/api/client', identity: VALID_USER, ip: '127.0.0.1' });
    expect(typeof line.id).toBe('string');
    expect(typeof line.ms).toBe('number');
    expect(proc.stdout).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});

describe('qtstatus serve limits and modes', () => {
  it('rate-limits an identity with 429 and Retry-After', async () => {
    const { url } = await serve('--rate-limit', '1', '--rate-burst', '2');
    const statuses: number[] = [];
    let retry: unknown;
    for (let i = 0; i < 4; i++) {
      const r = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
      statuses.push(r.status);
      if (r.status === 429) retry = r.headers['retry-after'];
    }
    expect(statuses.slice(0, 2)).toEqual([204, 204]);
    expect(statuses).toContain(429);
    expect(Number(retry)).toBeGreaterThanOrEqual(1);
  });

  it('--crl refuses a revoked certificate and keeps accepting the others', async () => {
    const { url } = await serve('--crl', fx.pki.crl);
    const revoked = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.revoked });
    expect(revoked.status).toBe(400);
    expect(revoked.json()).toMatchObject({ code: 'certificate_invalid', reason: 'CERT_REVOKED', message: 'The SSL certificate error: certificate has been revoked (CERT_REVOKED)' });
    const ok = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    expect(ok.status).toBe(204);
  });

  it('--auto-enroll registers a CA-verified email on first contact', async () => {
    const { url, db } = await serve('--auto-enroll');
    const r = await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.unknown });
    expect(r.status).toBe(204);
    const shown = await runCli(['users', 'show', 'unknown@qt-test.com', '--json', '--db', db]);
    expect(shown.code).toBe(0);
  });

  it('times out a client that never finishes its headers (408) and one that stalls the handshake', async () => {
    const { url } = await serve('--header-timeout', '300ms', '--handshake-timeout', '300ms');
    const port = Number(new URL(url).port);
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => {});
    const closed = new Promise((r) => raw.on('close', r));
    await closed; // the stalled handshake is cut off
    const slow = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: require_(fx.pki.ca), cert: require_(fx.pki.client.cert), key: require_(fx.pki.client.key) });
    slow.on('error', () => {});
    await new Promise((r) => slow.once('secureConnect', r));
    slow.write('PATCH /api/client HTTP/1.1\r\nHost: localhost\r\n');
    let answer = '';
    slow.on('data', (d) => (answer += d.toString()));
    await new Promise((r) => slow.on('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 431 to an oversized header', async () => {
    const { url } = await serve('--max-header-size', '1024');
    const port = Number(new URL(url).port);
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: require_(fx.pki.ca), cert: require_(fx.pki.client.cert), key: require_(fx.pki.client.key) });
    s.on('error', () => {});
    await new Promise((r) => s.once('secureConnect', r));
    s.write(`PATCH /api/client HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`);
    let answer = '';
    s.on('data', (d) => (answer += d.toString()));
    await new Promise((r) => s.on('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
  });

  it('exits 0 on SIGTERM, and reloads certificates on SIGHUP without dropping', async () => {
    const certCopy = join(fx.pki.dir, 'reload.crt');
    const keyCopy = join(fx.pki.dir, 'reload.key');
    copyFileSync(fx.pki.server.cert, certCopy);
    copyFileSync(fx.pki.server.key, keyCopy);
    const proc = new CliProcess(['serve', '--host', '127.0.0.1', '--port', '0', '--db', join(fx.pki.dir, 'reload.db'), '--cert', certCopy, '--key', keyCopy, '--ca', fx.pki.ca, '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`]);
    fx.procs.push(proc);
    await proc.waitFor('stderr', /serving/);
    writeFileSync(keyCopy, 'not a key');
    proc.kill('SIGHUP');
    await proc.waitFor('stderr', /SIGHUP: kept the old certificates: .*reload\.key/);
    copyFileSync(fx.pki.server.key, keyCopy);
    proc.kill('SIGHUP');
    await proc.waitFor('stderr', /SIGHUP: reloaded/);
    proc.kill('SIGTERM');
    const r = await proc.done();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopped/);
  });

  it('serves Prometheus metrics on --metrics', async () => {
    const { url, proc } = await serve('--metrics', '127.0.0.1:0');
    const m = await proc.waitFor('stderr', /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/);
    await request(`${url}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    await request(`${url}/api/client`, { ca: fx.pki.ca });
    const text = await (await fetch(m[1] as string)).text();
    expect(text).toMatch(/qtstatus_http_requests_total\{route="api_client",status="204"\} 1/);
    expect(text).toMatch(/qtstatus_tls_client_verification_failures_total\{reason="no_certificate"\} 1/);
    expect(text).toMatch(/qtstatus_udp_packets_sent_total 1/);
    expect(text).toMatch(/qtstatus_http_request_duration_seconds_bucket/);
  });
});

describe('qtstatus serve refuses to start, with the reason', () => {
  const base = () => ['serve', '--host', '127.0.0.1', '--port', '0', '--cert', fx.pki.server.cert, '--key', fx.pki.server.key, '--ca', fx.pki.ca, '--udp-source-port', '0', '--db', join(fx.pki.dir, 'refuse.db')];
  it.each([
    ['a missing certificate', ['--cert', '/nonexistent/server.crt', '--udp-target', '127.0.0.1:9'], /\/nonexistent\/server\.crt/],
    ['a key that is not the certificate\'s', ['--key', join('KEYDIR', 'client.key'), '--udp-target', '127.0.0.1:9'], /does not belong to/],
    ['an unresolvable UDP target', ['--udp-target', 'no-such-host.invalid:6667'], /cannot resolve UDP target no-such-host\.invalid:6667/],
    ['a non-loopback UDP target in tests', [], /refusing to send UDP to 255\.255\.255\.255:6667 \(QTSTATUS_LOOPBACK_ONLY is set/],
    ['a corrupt database', ['--db', 'CORRUPT', '--udp-target', '127.0.0.1:9'], /not a qtstatus database or is corrupt/],
    ['a metrics port that is taken', ['--udp-target', '127.0.0.1:9', '--metrics', 'TAKEN'], /cannot listen for metrics on 127\.0\.0\.1:\d+: EADDRINUSE/],
  ])('%s', async (_what, extra, message) => {
    const corrupt = join(fx.pki.dir, 'corrupt.db');
    writeFileSync(corrupt, 'garbage'.repeat(200));
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const takenPort = String((taken.address() as net.AddressInfo).port);
    const args = [...base(), ...extra.map((a) => a.replace('KEYDIR', fx.pki.dir).replace('CORRUPT', corrupt).replace('TAKEN', `127.0.0.1:${takenPort}`))];
    const r = await runCli(args, { timeoutMs: 10_000 }).finally(() => taken.close());
    expect(r.signal).toBeNull(); // it exits by itself: nothing half-started keeps it alive
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^qtstatus: /);
    expect(r.stderr).toMatch(message);
  });
});

function require_(file: string): Buffer {
  return readFileSync(file);
}
