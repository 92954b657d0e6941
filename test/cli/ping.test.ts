// `qtstatus ping` end to end: the real binary against a real `qtstatus serve`,
// a real nginx (TLS 1.2, as in front of the old system) when installed, and
// Node servers set up to fail in each way; every message and exit code.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, makeServer } from '../../src/pki/make.ts';
import { CliProcess, runCli, type CliResult } from '../helpers/cli.ts';
import { startDjangoLike } from '../helpers/django-like.ts';
import { docNginxConfig, hasNginx, startNginx } from '../helpers/nginx.ts';
import { packetSink, type PacketSink } from '../helpers/packets.ts';
import { closedPort, pem, startHttps, startTcp, until, type TestHttps } from '../helpers/ping-servers.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
let sink: PacketSink;
let udpPort: number;
const procs: CliProcess[] = [];
const closers: Array<{ close(): Promise<void> }> = [];
let encryptedKey: string;
let serveUrl: string;
let serveDb: string;

const serverTls = (cert = pki.server.cert, key = pki.server.key) => ({ cert: pem(cert), key: pem(key) });
const requireClients = (ca: string, maxVersion?: 'TLSv1.2') => ({ ...serverTls(), requestCert: true, rejectUnauthorized: true, ca: pem(ca), ...(maxVersion ? { maxVersion } : {}) });

async function https(...args: Parameters<typeof startHttps>): Promise<TestHttps> {
  const s = await startHttps(...args);
  closers.push(s);
  return s;
}

async function startServe(port = 0, ...extra: string[]): Promise<{ proc: CliProcess; url: string }> {
  const proc = new CliProcess([
    'serve', '--host', '127.0.0.1', '--port', String(port), '--db', serveDb,
    '--cert', pki.server.cert, '--key', pki.server.key, '--ca', pki.ca,
    '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`, '--log', 'off', ...extra,
  ]);
  procs.push(proc);
  const m = await proc.waitFor('stderr', /serving (https?:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url: `${(m[1] as string).replace('127.0.0.1', 'localhost')}/api/client` };
}

beforeAll(async () => {
  pki = await makeTestPki();
  sink = await packetSink();
  udpPort = sink.port;
  await makeServer({ dir: pki.dir, hosts: [{ kind: 'dns', value: 'elsewhere.test' }], name: 'elsewhere', days: 30, force: false });
  encryptedKey = join(pki.dir, 'encrypted.key');
  execFileSync('openssl', ['pkey', '-in', pki.client.key, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
  writeFileSync(join(pki.dir, 'passphrase'), 'secret\n');
  serveDb = join(pki.dir, 'ping.db');
  expect((await runCli(['users', 'add', VALID_USER, '--db', serveDb])).code).toBe(0);
  serveUrl = (await startServe(0, '--rate-limit', '0')).url;
});
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(closers.map((c) => c.close()));
  sink.close();
  pki.remove();
});

/** `qtstatus ping URL` with the test PKI's client unless `files` says otherwise. */
function ping(url: string, args: string[] = [], files: { cert?: string; key?: string; ca?: string } = {}, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const f = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca, ...files };
  return runCli(['ping', url, '--cert', f.cert, '--key', f.key, '--ca', f.ca, ...args], { env: { QTSTATUS_KEY_PASSPHRASE: undefined, ...env } });
}

const TIMINGS = /connect [\d.]+ ms, TLS [\d.]+ ms, first byte [\d.]+ ms, total [\d.]+ ms/;

describe('qtstatus ping against qtstatus serve', () => {
  it('prints one line with status, identity, server, TLS and timings, and the update is announced', async () => {
    const before = sink.packets.length;
    const r = await ping(serveUrl);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^204 No Content as valid_user@qt-test\\.com to https://localhost:\\d+/api/client \\(127\\.0\\.0\\.1\\) TLSv1\\.3 TLS_\\w+; ${TIMINGS.source}\\n$`));
    await until(() => sink.packets.slice(before).some((p) => p.email === VALID_USER), 5000, 'the UDP packet');
  });

  it('--json: one document', async () => {
    const r = await ping(serveUrl, ['--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, identity: VALID_USER, status: 204, statusText: 'No Content', server: { address: '127.0.0.1' }, tls: { protocol: 'TLSv1.3' }, connectionReused: false });
    expect(Object.keys(doc.timingsMs).sort()).toEqual(['connect', 'dns', 'firstByte', 'tls', 'total']);
  });

  it.each([
    ['an unregistered user: 403', 'unknown', 6, /^qtstatus: the server answered 403 Forbidden: User unknown \(unknown@qt-test\.com is not registered there: run `qtstatus users add unknown@qt-test\.com` on the server, or start it with --auto-enroll\)\n$/],
    ['a certificate from another CA: 400', 'otherCa', 5, /^qtstatus: the server refused our client certificate: 400 Bad Request: The SSL certificate error: certificate is not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\) \(does the server trust "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}", the CA that signed .*client\.crt\?/],
    ['a CN that is not an email: 400', 'badCn', 5, /refused our client certificate: 400 Bad Request: CN must be a valid email address \(the server wants an email address as the certificate's CN; .*bad_client\.crt has "not_an_email"\)/],
    ['a revoked certificate: 400', 'revoked', 5, /refused our client certificate: 400 Bad Request: The SSL certificate error: certificate has been revoked \(CERT_REVOKED\)/],
  ] as const)('%s', async (_what, who, code, message) => {
    const url = who === 'revoked' ? (await startServe(0, '--crl', pki.crl)).url : serveUrl;
    const r = await ping(url, [], pki[who]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(code);
  });

  it('--no-cert: says the server wants a certificate', async () => {
    const r = await runCli(['ping', serveUrl, '--no-cert', '--ca', pki.ca]);
    expect(r.stderr).toBe('qtstatus: the server wants a client certificate: 400 Bad Request: No required SSL certificate was sent (we sent none, as --no-cert asks; give --cert and --key)\n');
    expect(r.code).toBe(5);
  });

  it('refuses an expired client certificate before connecting', async () => {
    const r = await ping(serveUrl, [], pki.expired);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^qtstatus: the client certificate .*expired\.crt expired on .* \(2 days ago\) \(make a new one from the server's CA: qtstatus certs client valid_user@qt-test\.com\)\n$/);
  });

  it('warns on stderr when the client certificate expires within 14 days, and pings all the same (issue #12)', async () => {
    await makeClient({ dir: pki.dir, identity: VALID_USER, name: 'soon', days: 10, force: false });
    await makeClient({ dir: pki.dir, identity: VALID_USER, name: 'later', days: 15, force: false });
    const soon = await ping(serveUrl, [], { cert: join(pki.dir, 'soon.crt'), key: join(pki.dir, 'soon.key') });
    expect(soon.stderr).toMatch(/^qtstatus ping: warning: the client certificate .*soon\.crt expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 10 days\); renew it where the CA is: qtstatus certs renew .*soon\.crt\n$/);
    expect(soon.stdout).toMatch(/^204 No Content as valid_user@qt-test\.com/);
    expect(soon.code).toBe(0);
    const json = await ping(serveUrl, ['--json'], { cert: join(pki.dir, 'soon.crt'), key: join(pki.dir, 'soon.key') });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, status: 204 });
    expect(json.stderr).toContain('expires');
    const later = await ping(serveUrl, [], { cert: join(pki.dir, 'later.crt'), key: join(pki.dir, 'later.key') });
    expect(later.stderr).toBe('');
    expect(later.code).toBe(0);
  });

  it('--count --concurrency: a summary over reused connections', async () => {
    const r = await ping(serveUrl, ['--count', '30', '--concurrency', '3', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ ok: true, count: 30, completed: 30, succeeded: 30, failed: 0, concurrency: 3, statuses: { '204': 30 }, errors: {} });
    expect(s.connections.opened).toBeLessThanOrEqual(3);
    expect(s.requestsPerSecond).toBeGreaterThan(0);
    expect(Object.keys(s.latencyMs)).toEqual(['min', 'p50', 'p90', 'p99', 'max', 'mean']);
    const text = await ping(serveUrl, ['--count', '5', '--concurrency', '2']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^5 requests to https:\/\/localhost:\d+\/api\/client as valid_user@qt-test\.com, 2 at a time: [\d.]+ s, [\d.]+ requests\/s\n/);
    expect(text.stdout).toMatch(/\nlatency +p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms \(min [\d.]+ ms, max [\d.]+ ms\)\nstatuses +204 ×5\nfailures +none\nconnections +[12] \(TLSv1\.3 TLS_\w+\), 0 resumed; handshake p50/);
  });

  it('heartbeat: up, down with the reason while the server is away, up again, and a summary at SIGINT (exit 0)', async () => {
    const { proc: server, url } = await startServe(0, '--rate-limit', '0');
    const port = new URL(url).port;
    const beat = new CliProcess(['ping', url, '--cert', pki.client.cert, '--key', pki.client.key, '--ca', pki.ca, '--interval', '200ms'], { timeoutMs: 30_000 });
    procs.push(beat);
    await beat.waitFor('stdout', /Z up: 204 No Content in [\d.]+ ms \(TLSv1\.3, new connection\)\n/);
    server.kill('SIGTERM');
    await server.done();
    await beat.waitFor('stdout', /Z down: cannot connect to localhost:\d+: ECONNREFUSED: connection refused \(nothing listens there.*\); next try in [\d.]+ s\n/);
    await startServe(Number(port), '--rate-limit', '0');
    await beat.waitFor('stdout', /Z up again after [\d.]+ s down: 204 No Content/, 15_000);
    beat.kill('SIGINT');
    const r = await beat.done();
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3); // changes only, not every beat
    expect(r.stderr).toMatch(/qtstatus ping: stopped after \d+ beats in [\d.]+ s: \d+ answered 204, \d+ failed \(connection-refused ×\d+\); 2 changes of state, longest down [\d.]+ s; latency p50/);
  });

  it('heartbeat --json: one line per beat, a JSON summary at SIGTERM', async () => {
    const beat = new CliProcess(['ping', serveUrl, '--cert', pki.client.cert, '--key', pki.client.key, '--ca', pki.ca, '--interval', '100ms', '--json']);
    procs.push(beat);
    await beat.waitFor('stdout', /(\{"type":"beat"[^\n]*\n){3}/);
    beat.kill('SIGTERM');
    const r = await beat.done();
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatchObject({ type: 'beat', ok: true, status: 204, reused: false });
    expect(lines[1]).toMatchObject({ type: 'beat', ok: true, status: 204, reused: true });
    expect(JSON.parse(r.stderr.trim().split('\n').at(-1) as string)).toMatchObject({ type: 'summary', failed: 0, changes: 0 });
  });
});

describe('qtstatus ping explains each failure, with its exit code', () => {
  const cases: Array<[string, () => Promise<{ url: string; args?: string[]; files?: { cert?: string; key?: string; ca?: string } }>, number, RegExp]> = [
    ['connection refused', async () => ({ url: `https://localhost:${await closedPort()}` }), 3, /^qtstatus: cannot connect to localhost:\d+: ECONNREFUSED: connection refused \(nothing listens there: start the server \(`qtstatus serve`\) or check the host and port in the URL\)\n$/],
    ['a name that does not resolve', async () => ({ url: 'https://no-such-host.invalid:8443' }), 3, /^qtstatus: cannot resolve the host name no-such-host\.invalid: \w+: .*\((check the host name in the URL|the name server did not answer.*)\)\n$/],
    ['a timeout', async () => ({ url: (await https(serverTls(), () => {})).url, args: ['--timeout', '300ms'] }), 3, /^qtstatus: no answer from localhost:\d+ within 300 ms \(the server is slow or stuck; --timeout waits longer\)\n$/],
    ['a plain-HTTP port', async () => ({ url: `https://localhost:${(await tcp((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))).port}` }), 4, /^qtstatus: localhost:\d+ does not speak TLS: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\)/],
    ['a server certificate from another CA', async () => ({ url: (await https(serverTls(join(pki.dir, 'other/server.crt'), join(pki.dir, 'other/server.key')))).url }), 4,
      /^qtstatus: the server's certificate is not signed by the CA in .*\/ca\.crt: its issuer is "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}"; .*\/ca\.crt holds "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}" \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\) \(give --ca the CA certificate that signed the server's certificate/],
    ['a host name not in the certificate', async () => ({ url: (await https(serverTls(join(pki.dir, 'elsewhere.crt'), join(pki.dir, 'elsewhere.key')))).url }), 4,
      /^qtstatus: the host name localhost is not among the server certificate's names: the certificate \("CN=elsewhere\.test"\) is for DNS:elsewhere\.test \(use one of those names/],
    ['our certificate refused under TLS 1.3', async () => ({ url: (await https(requireClients(join(pki.dir, 'other/ca.crt')))).url }), 5,
      /^qtstatus: the server refused our client certificate: it closed the connection right after the TLS 1\.3 handshake, before any answer \(does the server trust/],
    ['our certificate refused under TLS 1.2', async () => ({ url: (await https(requireClients(join(pki.dir, 'other/ca.crt'), 'TLSv1.2'))).url }), 5,
      /^qtstatus: the server refused our client certificate: it closed the connection during the TLS handshake, without saying why \(does the server trust/],
    ['a key that is not the certificate\'s', async () => ({ url: serveUrl, files: { key: pki.server.key } }), 1,
      /^qtstatus: client key .*server\.key does not belong to .*client\.crt \(the key and the certificate must come from the same `qtstatus certs` run; give the matching pair\)\n$/],
    ['an encrypted key without a passphrase', async () => ({ url: serveUrl, files: { key: encryptedKey } }), 1,
      /^qtstatus: client key .*encrypted\.key is encrypted \(give its passphrase: --passphrase-file FILE or the environment variable QTSTATUS_KEY_PASSPHRASE\)\n$/],
    ['a missing file', async () => ({ url: serveUrl, files: { cert: join(pki.dir, 'nope.crt') } }), 1, /^qtstatus: cannot read certificate .*nope\.crt: ENOENT: no such file or directory \(check the path/],
    ['--interval with --count', async () => ({ url: serveUrl, args: ['--interval', '1s', '--count', '3'] }), 2, /^qtstatus: --interval and --count do not go together/],
    ['an http:// URL', async () => ({ url: 'http://localhost:8443' }), 2, /^qtstatus: "http:\/\/localhost:8443" is not an https:\/\/ URL/],
  ];
  it.each(cases)('%s', async (_what, setup, code, message) => {
    const { url, args, files } = await setup();
    const r = await ping(url, args, files);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(code);
  });

  it('--json: a failure is a document too', async () => {
    const r = await ping(`https://localhost:${await closedPort()}`, ['--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, identity: VALID_USER, error: { kind: 'connection-refused', exitCode: 3, message: expect.stringMatching(/^cannot connect to localhost:\d+: ECONNREFUSED/), hint: expect.stringMatching(/^nothing listens there/) } });
    const local = await ping(serveUrl, ['--json'], { key: encryptedKey });
    expect(local.code).toBe(1);
    expect(JSON.parse(local.stdout)).toMatchObject({ ok: false, error: { kind: 'local', exitCode: 1 } });
  });

  it('a failed --count run exits with the code of its most frequent failure', async () => {
    const r = await ping(`https://localhost:${await closedPort()}`, ['--count', '4', '--concurrency', '2']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/\nfailures +4 of 4: connection-refused ×4\n/);
    expect(r.stderr).toMatch(/^qtstatus: 4 of 4 requests failed; most often \(4\): cannot connect to localhost:\d+: ECONNREFUSED/);
  });
});

describe('a --count run counts every answer other than 204 as a failure (issue #13)', () => {
  it('429s from a server\'s rate limit are failures, named in the summary and the exit code', async () => {
    const { url } = await startServe(0, '--rate-limit', '1', '--rate-burst', '2');
    const r = await ping(url, ['--count', '6', '--concurrency', '1']);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/\nstatuses +204 ×2, 429 ×4\nfailures +4 of 6: http-status ×4\n/);
  });

  it('the README\'s load example works against a default serve', async () => {
    const { url } = await startServe(0);
    const r = await ping(url, ['--count', '1000', '--concurrency', '10']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\nstatuses +204 ×1000\nfailures +none\n/);
  });
});

describe('qtstatus ping works', () => {
  it('against a TLS 1.2 server that requires client certificates (nginx-like)', async () => {
    const r = await ping((await https(requireClients(pki.ca, 'TLSv1.2'))).url);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^204 No Content as valid_user@qt-test\.com .* TLSv1\.2 TLS_ECDHE_\w+; /);
  });

  it('with an encrypted key and its passphrase from the environment or a file', async () => {
    const { url } = await https(requireClients(pki.ca));
    const fromEnv = await ping(url, [], { key: encryptedKey }, { QTSTATUS_KEY_PASSPHRASE: 'secret' });
    expect(fromEnv.code).toBe(0);
    const fromFile = await ping(url, ['--passphrase-file', join(pki.dir, 'passphrase')], { key: encryptedKey });
    expect(fromFile.code).toBe(0);
  });

  it('--insecure: accepts an untrusted server and warns every time', async () => {
    const { url } = await https(serverTls(join(pki.dir, 'other/server.crt'), join(pki.dir, 'other/server.key')));
    for (let i = 0; i < 2; i++) {
      const r = await ping(url, ['--insecure']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^qtstatus ping: warning: --insecure: the server's certificate is not verified/);
    }
  });

  it('--new-connection: a full TLS handshake for each request, counted by the server', async () => {
    const s = await https(requireClients(pki.ca));
    const r = await ping(s.url, ['--count', '10', '--concurrency', '2', '--new-connection', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ succeeded: 10, newConnection: true, connections: { opened: 10, resumed: 0 } });
    expect(s.counts).toMatchObject({ handshakes: 10, resumed: 0, requests: 10 });
    const reused = await https(requireClients(pki.ca));
    expect((await ping(reused.url, ['--count', '10', '--concurrency', '2'])).code).toBe(0);
    expect(reused.counts.handshakes).toBeLessThanOrEqual(2);
  });
});

// Issue #10: the old Django view's plain-text answers (labelled text/html)
// lost their reason, and a bad CN exited 6 instead of 5.
describe('qtstatus ping against the old Django service behind nginx', () => {
  let django: TestHttps;
  beforeAll(async () => {
    django = await startDjangoLike({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, users: [VALID_USER] });
    closers.push(django);
  });

  it('a registered user: 204 over TLS 1.2, exit 0', async () => {
    const r = await ping(django.url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^204 No Content as valid_user@qt-test\.com .* TLSv1\.2 /);
  });

  it('400 "CN must be a valid email address": our certificate refused, exit 5', async () => {
    const r = await ping(django.url, [], pki.badCn);
    expect(r.stderr).toMatch(/^qtstatus: the server refused our client certificate: 400 Bad Request: CN must be a valid email address \(the server wants an email address as the certificate's CN; .*bad_client\.crt has "not_an_email"\)\n$/);
    expect(r.code).toBe(5);
  });

  it('403 "User unknown": the user_unknown hint, exit 6; --json keeps the message', async () => {
    const r = await ping(django.url, [], pki.unknown);
    expect(r.stderr).toBe('qtstatus: the server answered 403 Forbidden: User unknown (unknown@qt-test.com is not registered there: run `qtstatus users add unknown@qt-test.com` on the server, or start it with --auto-enroll)\n');
    expect(r.code).toBe(6);
    const json = await ping(django.url, ['--json'], pki.unknown);
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, status: 403, message: 'User unknown', error: { kind: 'http-status', exitCode: 6, hint: expect.stringContaining('qtstatus users add unknown@qt-test.com') } });
  });

  it('text from the server reaches the terminal and the JSON escaped', async () => {
    const body = 'oops \x1b]0;owned\x07\u202e\x9b31m';
    const broken = await startDjangoLike({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, users: [], fixed: { status: 500, body } });
    closers.push(broken);
    const r = await ping(broken.url);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe("qtstatus: the server answered 500 Internal Server Error: oops \\x1b]0;owned\\x07\\u{202e}\\x9b31m (a problem on the server's side: see its log)\n");
    const json = await ping(broken.url, ['--json']);
    expect(json.stdout).not.toMatch(/[\x1b\x07\u202e\x9b]/);
    expect(JSON.parse(json.stdout).message).toBe(body);
  });
});

async function tcp(onSocket: (s: net.Socket) => void): Promise<{ port: number }> {
  const s = await startTcp(onSocket);
  closers.push(s);
  return s;
}

// The old system: nginx with TLS 1.2 (the configuration of docs/nginx.md)
// verifies the client certificate and passes the identity to the application
// (here `qtstatus serve --trust-proxy`).
describe.skipIf(!hasNginx)(`qtstatus ping through a real nginx with TLS 1.2${hasNginx ? '' : ' (skipped: nginx is not installed)'}`, () => {
  let proxy: ChildProcess;
  let url: string;
  beforeAll(async () => {
    const upstream = new CliProcess(['serve', '--trust-proxy', '127.0.0.1', '--host', '127.0.0.1', '--port', '0', '--db', serveDb, '--udp-source-port', '0', '--udp-target', `127.0.0.1:${udpPort}`, '--log', 'off']);
    procs.push(upstream);
    const upstreamUrl = (await upstream.waitFor('stderr', /serving (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
    const port = await closedPort();
    const conf = docNginxConfig()
      .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;\n    ssl_protocols TLSv1.2;`)
      .replace('/etc/qtstatus/server.crt', pki.server.cert)
      .replace('/etc/qtstatus/server.key', pki.server.key)
      .replace('/etc/qtstatus/ca.crt', pki.ca)
      .replace('http://127.0.0.1:8000', upstreamUrl);
    proxy = await startNginx(join(pki.dir, 'nginx'), port, conf);
    url = `https://localhost:${port}/api/client`;
  });
  afterAll(() => proxy?.kill('SIGKILL'));

  it('records the update over TLS 1.2', async () => {
    const r = await ping(url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^204 No Content as valid_user@qt-test\.com to https:\/\/localhost:\d+\/api\/client \(127\.0\.0\.1\) TLSv1\.2 /);
  });

  it("explains nginx's 400 for a certificate from another CA", async () => {
    const r = await ping(url, [], pki.otherCa);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^qtstatus: the server refused our client certificate: 400 Bad Request: The SSL certificate error \(does the server trust/);
  });
});
