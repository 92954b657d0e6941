// The client against real servers on 127.0.0.1, one per failure it explains.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type PingClient } from '../../src/client/agent.ts';
import { loadCredentials } from '../../src/client/credentials.ts';
import { answerFailure, PingError } from '../../src/client/diagnose.ts';
import { ping, serverMessage } from '../../src/client/ping.ts';
import { run } from '../../src/client/run.ts';
import { parseTarget } from '../../src/client/target.ts';
import { formatError } from '../../src/cli/report.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { makeServer } from '../../src/pki/make.ts';
import { startDjangoLike } from '../helpers/django-like.ts';
import { closedPort, pem, startHttps, startTcp, type TestHttps } from '../helpers/ping-servers.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
const servers: Array<{ close(): Promise<void> }> = [];
let ok13: TestHttps;
let ok12: TestHttps;

const serverTls = (over: object = {}) => ({ cert: pem(pki.server.cert), key: pem(pki.server.key), ...over });
const requireClients = (ca: string, maxVersion?: 'TLSv1.2') => serverTls({ requestCert: true, rejectUnauthorized: true, ca: pem(ca), ...(maxVersion ? { maxVersion } : {}) });

async function serve(...args: Parameters<typeof startHttps>): Promise<TestHttps> {
  const s = await startHttps(...args);
  servers.push(s);
  return s;
}

beforeAll(async () => {
  pki = await makeTestPki();
  const hosts = [{ kind: 'dns', value: 'elsewhere.test' }] as const;
  await makeServer({ dir: pki.dir, hosts: [...hosts], name: 'elsewhere', days: 30, force: false });
  const local = [{ kind: 'dns', value: 'localhost' }] as const;
  await makeServer({ dir: pki.dir, hosts: [...local], name: 'old_server', days: 1, force: false, now: new Date(Date.now() - 3 * 86_400_000) });
  ok13 = await serve(requireClients(pki.ca));
  ok12 = await serve(requireClients(pki.ca, 'TLSv1.2'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  pki.remove();
});

interface Over {
  cert?: string;
  key?: string;
  ca?: string;
  insecure?: boolean;
  timeoutMs?: number;
  newConnection?: boolean;
  connections?: number;
}

async function client(url: string, o: Over = {}): Promise<PingClient> {
  const credentials = await loadCredentials({ cert: o.cert ?? pki.client.cert, key: o.key ?? pki.client.key, ca: o.ca ?? pki.ca, insecure: o.insecure });
  return createClient({ target: parseTarget(url), credentials, timeoutMs: o.timeoutMs ?? 5000, insecure: o.insecure, newConnection: o.newConnection, connections: o.connections });
}

async function pingOnce(url: string, o: Over = {}) {
  const c = await client(url, o);
  try {
    return await ping(c);
  } finally {
    await c.destroy();
  }
}

async function failure(url: string, o: Over = {}): Promise<PingError> {
  const c = await client(url, o);
  try {
    const f = answerFailure(await ping(c), c);
    if (f) return f;
  } catch (err) {
    if (err instanceof PingError) return err;
    throw err;
  } finally {
    await c.destroy();
  }
  throw new Error('expected a failure');
}

describe('ping succeeds', () => {
  it('over TLS 1.3 with a client certificate, with curl-like timings', async () => {
    const r = await pingOnce(ok13.url);
    expect(r).toMatchObject({ status: 204, statusText: 'No Content', ok: true });
    expect(r.connection).toMatchObject({ protocol: 'TLSv1.3', remoteAddress: '127.0.0.1', remotePort: ok13.port, reused: false });
    expect(r.connection.cipher).toMatch(/^TLS_/);
    const t = r.timings;
    expect(t.dns).toBeGreaterThanOrEqual(0);
    expect(t.connect).toBeGreaterThanOrEqual(t.dns ?? 0);
    expect(t.tls).toBeGreaterThanOrEqual(t.connect ?? 0);
    expect(t.firstByte).toBeGreaterThanOrEqual(t.tls ?? 0);
    expect(t.total).toBeGreaterThanOrEqual(t.firstByte);
  });

  it('over TLS 1.2, as nginx in front of the old system', async () => {
    const r = await pingOnce(ok12.url);
    expect(r.ok).toBe(true);
    expect(r.connection.protocol).toBe('TLSv1.2');
    expect(r.connection.cipher).toMatch(/^TLS_ECDHE_/);
  });

  it('to an IP address in the certificate, without a name lookup', async () => {
    const r = await pingOnce(`https://127.0.0.1:${ok13.port}`);
    expect(r.ok).toBe(true);
    expect(r.timings.dns).toBeUndefined();
  });

  it('reuses the connection for the next request', async () => {
    const s = await serve(requireClients(pki.ca));
    const c = await client(s.url);
    const a = await ping(c);
    const b = await ping(c);
    await c.destroy();
    expect([a.connection.reused, b.connection.reused]).toEqual([false, true]);
    expect(b.timings.connect).toBeUndefined();
    expect(s.counts).toMatchObject({ handshakes: 1, requests: 2 });
  });
});

describe('ping explains what went wrong', () => {
  it('connection refused', async () => {
    const e = await failure(`https://localhost:${await closedPort()}`);
    expect(e).toMatchObject({ kind: 'connection-refused', code: ErrorCodes.CONNECT });
    expect(formatError(e)).toMatch(/^qtstatus: cannot connect to localhost:\d+: ECONNREFUSED: connection refused \(nothing listens there: start the server/);
  });

  it('a host name that does not resolve', async () => {
    const e = await failure('https://no-such-host.invalid:8443');
    expect(e).toMatchObject({ kind: 'dns', code: ErrorCodes.CONNECT });
    expect(formatError(e)).toMatch(/^qtstatus: cannot resolve the host name no-such-host\.invalid: (ENOTFOUND|EAI_AGAIN)/);
  });

  it('a server that does not answer in time', async () => {
    const slow = await serve(serverTls(), () => {});
    const e = await failure(slow.url, { timeoutMs: 300 });
    expect(e).toMatchObject({ kind: 'timeout', code: ErrorCodes.CONNECT });
    expect(formatError(e)).toMatch(/^qtstatus: no answer from localhost:\d+ within 300 ms \(the server is slow or stuck; --timeout waits longer\)$/);
  });

  it('a port that accepts but never does TLS', async () => {
    const mute = await startTcp(() => {});
    servers.push(mute);
    const e = await failure(`https://localhost:${mute.port}`, { timeoutMs: 300 });
    expect(e).toMatchObject({ kind: 'timeout', code: ErrorCodes.CONNECT });
    expect(formatError(e)).toMatch(/^qtstatus: the TLS handshake with localhost:\d+ did not finish within 300 ms \(is this port a TLS server\?/);
  });

  it('a port that speaks plain HTTP', async () => {
    const plain = await startTcp((s) => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
    servers.push(plain);
    const e = await failure(`https://localhost:${plain.port}`);
    expect(e).toMatchObject({ kind: 'not-tls', code: ErrorCodes.TLS });
    expect(formatError(e)).toMatch(/^qtstatus: localhost:\d+ does not speak TLS: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\) \(is it a plain-HTTP port\?/);
  });

  it('a server that hangs up before the handshake', async () => {
    const closer = await startTcp((s) => s.destroy());
    servers.push(closer);
    const e = await failure(`https://localhost:${closer.port}`);
    expect(e).toMatchObject({ kind: 'connection-closed', code: ErrorCodes.CONNECT });
    expect(formatError(e)).toMatch(/^qtstatus: localhost:\d+ closed the connection before the TLS handshake \(is it a TLS server\?/);
  });

  it("a server whose certificate is not signed by our CA: names the CA file and the server's issuer", async () => {
    const other = await serve(serverTls({ cert: pem(join(pki.dir, 'other/server.crt')), key: pem(join(pki.dir, 'other/server.key')) }));
    const e = await failure(other.url);
    expect(e).toMatchObject({ kind: 'server-untrusted', code: ErrorCodes.TLS });
    const text = formatError(e);
    expect(text).toContain(`the server's certificate is not signed by the CA in ${pki.ca}`);
    expect(text).toMatch(/its issuer is "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}"; .*ca\.crt holds "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}" \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(text).toMatch(/\(give --ca the CA certificate that signed the server's certificate/);
  });

  it('a server whose certificate has expired', async () => {
    const old = await serve(serverTls({ cert: pem(join(pki.dir, 'old_server.crt')), key: pem(join(pki.dir, 'old_server.key')) }));
    const e = await failure(old.url);
    expect(e).toMatchObject({ kind: 'server-untrusted', code: ErrorCodes.TLS });
    expect(formatError(e)).toMatch(/the server's certificate expired on .* \(2 days ago\): "CN=localhost" \(CERT_HAS_EXPIRED\)/);
  });

  it("a host name that is not among the certificate's names: lists them", async () => {
    const elsewhere = await serve(serverTls({ cert: pem(join(pki.dir, 'elsewhere.crt')), key: pem(join(pki.dir, 'elsewhere.key')) }));
    const e = await failure(elsewhere.url);
    expect(e).toMatchObject({ kind: 'name-mismatch', code: ErrorCodes.TLS });
    expect(formatError(e)).toBe(
      'qtstatus: the host name localhost is not among the server certificate\'s names: the certificate ("CN=elsewhere.test") is for DNS:elsewhere.test ' +
        '(use one of those names in the URL, or give the server a certificate for localhost: qtstatus certs server --host localhost)',
    );
    const byIp = await failure(`https://127.0.0.1:${elsewhere.port}`);
    expect(formatError(byIp)).toMatch(/the address 127\.0\.0\.1 is not among the server certificate's names/);
  });

  it.each([
    ['TLS 1.3 (a close right after the handshake)', undefined, /it closed the connection right after the TLS 1\.3 handshake, before any answer/],
    ['TLS 1.2 (a close during the handshake)', 'TLSv1.2' as const, /it closed the connection during the TLS handshake, without saying why/],
  ])('a server that refuses our certificate under %s', async (_what, maxVersion, cause) => {
    const refusing = await serve(requireClients(join(pki.dir, 'other/ca.crt'), maxVersion));
    const e = await failure(refusing.url);
    expect(e).toMatchObject({ kind: 'certificate-refused', code: ErrorCodes.CERT_REFUSED });
    const text = formatError(e);
    expect(text).toMatch(/^qtstatus: the server refused our client certificate: /);
    expect(text).toMatch(cause);
    expect(text).toMatch(/\(does the server trust "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}", the CA that signed .*client\.crt\?/);
  });

  it.each([
    ['TLS 1.3 (an alert right after the handshake)', undefined, /^qtstatus: the server wants a client certificate: TLS alert "certificate required" \(116\) \(we sent none, as --no-cert asks; give --cert and --key\)$/],
    ['TLS 1.2 (an alert during the handshake)', 'TLSv1.2' as const, /^qtstatus: the server wants a client certificate: TLS alert "handshake failure" \(40\)/],
  ])('a server that wants a certificate when we send none, under %s', async (_what, maxVersion, message) => {
    const strict = await serve(requireClients(pki.ca, maxVersion));
    const credentials = await loadCredentials({ ca: pki.ca });
    const c = createClient({ target: parseTarget(strict.url), credentials, timeoutMs: 5000 });
    const e = await ping(c).then(() => undefined, (err: unknown) => err as PingError);
    await c.destroy();
    expect(e).toMatchObject({ kind: 'certificate-refused', code: ErrorCodes.CERT_REFUSED });
    expect(formatError(e)).toMatch(message);
  });

  it('accepts any server certificate with insecure', async () => {
    const other = await serve(serverTls({ cert: pem(join(pki.dir, 'other/server.crt')), key: pem(join(pki.dir, 'other/server.key')) }));
    expect((await pingOnce(other.url, { insecure: true })).ok).toBe(true);
  });
});

// openssl s_server sends the TLS alerts that nginx and most servers send
// (Node's own server just closes), under TLS 1.2 during the handshake and
// under TLS 1.3 after it.
describe('ping names the TLS alert of a server that refuses our certificate', () => {
  it.each(['-tls1_3', '-tls1_2'])('openssl s_server %s', async (version) => {
    const port = await closedPort();
    const args = ['s_server', '-quiet', '-accept', `127.0.0.1:${port}`, '-cert', pki.server.cert, '-key', pki.server.key];
    const child = spawn('openssl', [...args, '-CAfile', join(pki.dir, 'other/ca.crt'), '-Verify', '1', '-verify_return_error', version, '-www', '-naccept', '1'], { stdio: 'ignore' });
    try {
      let e: PingError | undefined;
      for (let i = 0; i < 100 && (e === undefined || e.kind === 'connection-refused'); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 30));
        e = await failure(`https://localhost:${port}`);
      }
      expect(e).toMatchObject({ kind: 'certificate-refused', code: ErrorCodes.CERT_REFUSED });
      expect(formatError(e)).toMatch(/^qtstatus: the server refused our client certificate: TLS alert "unknown ca" \(48\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('ping explains answers other than 204', () => {
  const json = (status: number, body: object, headers: Record<string, string> = {}) => (_req: unknown, res: import('node:http').ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

  it.each([
    [403, { code: 'user_unknown', message: 'User unknown' }, {}, 'http-status', /^qtstatus: the server answered 403 Forbidden: User unknown \(valid_user@qt-test\.com is not registered there: run `qtstatus users add valid_user@qt-test\.com` on the server/],
    [429, { code: 'rate_limited', message: 'too many' }, { 'retry-after': '3' }, 'http-status', /answered 429 Too Many Requests: too many \(the server limits requests per identity: try again in 3 s, or raise its --rate-limit\)/],
    [503, { code: 'store_unavailable', message: 'the store does not answer' }, {}, 'http-status', /answered 503 Service Unavailable: the store does not answer \(a problem on the server's side: see its log\)/],
    [400, { code: 'certificate_invalid', reason: 'CERT_HAS_EXPIRED', message: 'The SSL certificate error: certificate has expired (CERT_HAS_EXPIRED)' }, {}, 'certificate-refused', /refused our client certificate: 400 Bad Request: The SSL certificate error: certificate has expired \(CERT_HAS_EXPIRED\) \(the server thinks .*client\.crt has expired/],
    [400, { code: 'invalid_cn', message: 'CN must be a valid email address' }, {}, 'certificate-refused', /CN must be a valid email address \(the server wants an email address as the certificate's CN/],
  ] as const)('%i %o', async (status, body, headers, kind, message) => {
    const s = await serve(serverTls(), json(status, body, headers));
    const e = await failure(s.url);
    expect(e.kind).toBe(kind);
    expect(e.code).toBe(kind === 'http-status' ? ErrorCodes.HTTP_STATUS : ErrorCodes.CERT_REFUSED);
    expect(formatError(e)).toMatch(message);
  });

  it("nginx's HTML page for a refused certificate", async () => {
    const html = '<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n';
    const s = await serve(serverTls(), (_req, res) => res.writeHead(400, { 'content-type': 'text/html' }).end(html));
    const e = await failure(s.url);
    expect(e.kind).toBe('certificate-refused');
    expect(formatError(e)).toMatch(/^qtstatus: the server refused our client certificate: 400 Bad Request: The SSL certificate error \(/);
  });

  it('never passes control characters from the server through: they are shown escaped', async () => {
    const s = await serve(serverTls(), (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('bad\x1b[2J\u202ething\nsecond line'));
    const text = formatError(await failure(s.url));
    expect(text).toContain('answered 500 Internal Server Error: bad\\x1b[2J\\u{202e}thing (');
    expect(text).not.toMatch(/[\x1b\u202e]/);
  });

  it("nginx's HTML page for a missing certificate", async () => {
    const html = '<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n';
    const s = await serve(serverTls(), (_req, res) => res.writeHead(400, { 'content-type': 'text/html' }).end(html));
    const e = await failure(s.url);
    expect(e.kind).toBe('certificate-refused');
    expect(formatError(e)).toMatch(/^qtstatus: the server refused our client certificate: 400 Bad Request: No required SSL certificate was sent \(the server got no certificate from us/);
  });
});

// Issue #10: the old Django view answers plain text with Django's default
// content type, text/html; its reasons were lost (exit 6 for a bad CN).
describe('ping explains the old Django service behind nginx', () => {
  let django: TestHttps;
  beforeAll(async () => {
    django = await startDjangoLike({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, users: [VALID_USER] });
    servers.push(django);
  });

  it('204 for a registered user', async () => {
    expect(await pingOnce(django.url)).toMatchObject({ status: 204, ok: true, connection: { protocol: 'TLSv1.2' } });
  });

  it('400 "CN must be a valid email address": the server refused our certificate\'s identity, as qtstatus serve\'s invalid_cn', async () => {
    const e = await failure(django.url, pki.badCn);
    expect(e).toMatchObject({ kind: 'certificate-refused', code: ErrorCodes.CERT_REFUSED });
    expect(formatError(e)).toMatch(
      /^qtstatus: the server refused our client certificate: 400 Bad Request: CN must be a valid email address \(the server wants an email address as the certificate's CN; .*bad_client\.crt has "not_an_email"\)$/,
    );
  });

  it('403 "User unknown": the same hint as qtstatus serve\'s user_unknown', async () => {
    const e = await failure(django.url, pki.unknown);
    expect(e).toMatchObject({ kind: 'http-status', code: ErrorCodes.HTTP_STATUS });
    expect(formatError(e)).toBe(
      'qtstatus: the server answered 403 Forbidden: User unknown (unknown@qt-test.com is not registered there: run `qtstatus users add unknown@qt-test.com` on the server, or start it with --auto-enroll)',
    );
  });

  it('shows other plain-text answers, escaped', async () => {
    const broken = await startDjangoLike({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, users: [], fixed: { status: 500, body: 'database \x1b[31mgone\x1b[0m\n' } });
    servers.push(broken);
    const text = formatError(await failure(broken.url));
    expect(text).toBe("qtstatus: the server answered 500 Internal Server Error: database \\x1b[31mgone\\x1b[0m (a problem on the server's side: see its log)");
  });
});

describe('serverMessage', () => {
  it.each([
    ['text/html; charset=utf-8', 'CN must be a valid email address', 'CN must be a valid email address'],
    ['text/html', 'User unknown\n', 'User unknown'],
    ['text/html', '<html><head><title>400 The SSL certificate error</title></head></html>', 'The SSL certificate error'],
    ['text/html', '<!doctype html><p>no title</p>', undefined],
    ['application/json', '{"code":"invalid_cn","message":"CN must be a valid email address"}', 'CN must be a valid email address'],
    ['text/plain', 'first\nsecond', 'first'],
  ])('%s %j', (type, body, message) => {
    expect(serverMessage(type, body).message).toBe(message);
  });
});

describe('many pings', () => {
  it('--count with --concurrency reuses at most that many connections', async () => {
    const s = await serve(requireClients(pki.ca));
    const c = await client(s.url, { connections: 4 });
    let progress = 0;
    const summary = await run(c, { count: 60, concurrency: 4, onProgress: (done) => (progress = done) });
    await c.destroy();
    expect(summary).toMatchObject({ count: 60, completed: 60, succeeded: 60, failed: 0, statuses: { '204': 60 }, errors: {} });
    expect(progress).toBe(60);
    expect(summary.connections.opened).toBeLessThanOrEqual(4);
    expect(s.counts.handshakes).toBe(summary.connections.opened);
    expect(summary.latencyMs?.p50).toBeGreaterThan(0);
    expect(summary.requestsPerSecond).toBeGreaterThan(0);
    expect(summary.mainFailure).toBeUndefined();
  });

  it('--new-connection makes a full handshake for every request', async () => {
    const s = await serve(requireClients(pki.ca));
    const c = await client(s.url, { connections: 2, newConnection: true });
    const summary = await run(c, { count: 12, concurrency: 2 });
    await c.destroy();
    expect(summary.succeeded).toBe(12);
    expect(s.counts).toMatchObject({ handshakes: 12, resumed: 0, requests: 12 });
    expect(summary.connections).toMatchObject({ opened: 12, resumed: 0 });
    expect(summary.connections.handshakeMs?.p50).toBeGreaterThan(0);
  });

  it('counts errors by kind and names the most frequent failure', async () => {
    const c = await client(`https://localhost:${await closedPort()}`, { connections: 2 });
    const summary = await run(c, { count: 6, concurrency: 2 });
    await c.destroy();
    expect(summary).toMatchObject({ completed: 6, succeeded: 0, failed: 6, errors: { 'connection-refused': 6 } });
    expect(summary.latencyMs).toBeUndefined();
    expect(summary.mainFailure?.count).toBe(6);
    expect(summary.mainFailure?.error.kind).toBe('connection-refused');
  });
});

describe('the client', () => {
  it('presents the identity it was given', async () => {
    const seen: string[] = [];
    const s = await serve(requireClients(pki.ca), (req, res) => {
      seen.push(String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN));
      res.writeHead(204).end();
    });
    await pingOnce(s.url);
    await pingOnce(s.url, pki.unknown);
    expect(seen).toEqual([VALID_USER, 'unknown@qt-test.com']);
  });
});
