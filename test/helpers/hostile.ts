// Clients for the soak and crash tests of `qtstatus serve` (issue #10):
// hostile ones (no or bad certificates, garbage instead of TLS, stalled
// handshakes, slow and oversized headers) that report what the server did to
// each connection, a bounded flood runner, verified PATCHes with their local
// address, and the server's memory from /proc. Real sockets only, and every
// one of them connects to 127.0.0.1 (from 127.0.0.0/8 source addresses).
// Run as a script (`node test/helpers/hostile.ts PARAMS_JSON`, see
// spawnHostile) it floods the server with every hostile class and prints
// what each got, as JSON.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

/** The server under test: always 127.0.0.1. */
export interface Target {
  port: number;
  /** CA of the server certificate (the client checks it for `localhost`). */
  ca: Buffer;
}

export interface Identity {
  cert: Buffer;
  key: Buffer;
}

/** Reads a certificate/key pair as the helpers in pki.ts name it. */
export function loadIdentity(files: { cert: string; key: string }): Identity {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key) };
}

/** What the server did with one hostile connection. */
export type Outcome =
  /** The connection ended (reset, closed, refused) before TLS (or TCP) was established. */
  | { kind: 'refused'; error: string; ms: number }
  /** An HTTP answer; `closed`: the server closed the connection within `closeWaitMs` after it. */
  | { kind: 'answered'; status: number; code?: string; reason?: string; closed: boolean; ms: number; afterSecureMs: number }
  /** The server closed the connection without any HTTP answer; `firstBytes` is what it sent (hex), if anything. */
  | { kind: 'closed'; ms: number; afterSecureMs: number; received: number; firstBytes: string; error?: string }
  /** Our own bound ran out with the connection still open and no answer. */
  | { kind: 'open'; ms: number; received: number };

export const PATCH_REQUEST = 'PATCH /api/client HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n';

interface Parsed {
  status: number;
  code?: string;
  reason?: string;
}

/** A complete HTTP/1.1 answer at the start of `buf` (status line, headers, Content-Length body). */
function parseAnswer(buf: Buffer): Parsed | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return { status: -1 };
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  if (buf.length < end + 4 + length) return undefined;
  const parsed: Parsed = { status: Number(m[1]) };
  if (length > 0) {
    try {
      const body = JSON.parse(buf.subarray(end + 4, end + 4 + length).toString('utf8')) as { code?: unknown; reason?: unknown };
      if (typeof body.code === 'string') parsed.code = body.code;
      if (typeof body.reason === 'string') parsed.reason = body.reason;
    } catch {
      /* not JSON: the status alone tells */
    }
  }
  return parsed;
}

export interface TlsProbeOptions extends Target {
  /** Source address, e.g. 127.0.0.23, so that each class is its own client. */
  localAddress?: string;
  /** The client certificate; none when absent. */
  identity?: Identity;
  /**
   * What to send once TLS is up; may return a function that stops sending
   * (called when the connection ends). Defaults to one PATCH /api/client.
   */
  send?: (socket: tls.TLSSocket) => void | (() => void);
  /** How long to wait after an answer for the server to close. */
  closeWaitMs: number;
  /** The most this probe may take. */
  boundMs: number;
}

/** One TLS connection to the server: what it answered, and whether it closed the connection. */
export function tlsProbe(o: TlsProbeOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let securedAt = -1;
    let received = Buffer.alloc(0);
    let answer: Parsed | undefined;
    let answeredAt = 0;
    let stopSending: (() => void) | void;
    let settled = false;
    let closeWait: NodeJS.Timeout | undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port: o.port,
      servername: 'localhost',
      ca: o.ca,
      cert: o.identity?.cert,
      key: o.identity?.key,
      // Passed on to net.connect; @types/node leaves it out of tls.ConnectionOptions.
      localAddress: o.localAddress,
    } as tls.ConnectionOptions);
    const finish = (out: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      clearTimeout(closeWait);
      stopSending?.();
      socket.destroy();
      resolve(out);
    };
    const bound = setTimeout(() => {
      const ms = performance.now() - started;
      if (answer) finish({ kind: 'answered', ...answer, closed: false, ms: answeredAt - started, afterSecureMs: answeredAt - securedAt });
      else finish({ kind: 'open', ms, received: received.length });
    }, o.boundMs);
    const ended = (err?: Error & { code?: string }) => {
      const now = performance.now();
      if (securedAt < 0) return finish({ kind: 'refused', error: err?.code ?? err?.message ?? 'closed', ms: now - started });
      if (answer) return finish({ kind: 'answered', ...answer, closed: true, ms: answeredAt - started, afterSecureMs: answeredAt - securedAt });
      finish({
        kind: 'closed',
        ms: now - started,
        afterSecureMs: now - securedAt,
        received: received.length,
        firstBytes: received.subarray(0, 16).toString('hex'),
        ...(err ? { error: err.code ?? err.message } : {}),
      });
    };
    socket.on('secureConnect', () => {
      securedAt = performance.now();
      if (o.send) stopSending = o.send(socket);
      else socket.write(PATCH_REQUEST);
    });
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (answer) return;
      answer = parseAnswer(received);
      if (!answer) return;
      answeredAt = performance.now();
      stopSending?.();
      stopSending = undefined;
      // The answer is complete: now, does the server close the connection?
      closeWait = setTimeout(
        () => finish({ kind: 'answered', ...(answer as Parsed), closed: false, ms: answeredAt - started, afterSecureMs: answeredAt - securedAt }),
        o.closeWaitMs,
      );
    });
    socket.on('end', () => ended());
    socket.on('close', () => ended());
    socket.on('error', (err) => ended(err));
  });
}

export interface RawProbeOptions {
  port: number;
  localAddress?: string;
  /** Bytes to send right after connecting: garbage, half a ClientHello, or nothing. */
  payload?: Buffer;
  boundMs: number;
}

/** One plain TCP connection to the TLS port: when, and with what, the server closed it. */
export function rawProbe(o: RawProbeOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let connectedAt = -1;
    let received = Buffer.alloc(0);
    let settled = false;
    const socket = net.connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress });
    const finish = (out: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      socket.destroy();
      resolve(out);
    };
    const bound = setTimeout(() => finish({ kind: 'open', ms: performance.now() - started, received: received.length }), o.boundMs);
    const ended = (err?: Error & { code?: string }) => {
      const now = performance.now();
      if (connectedAt < 0) return finish({ kind: 'refused', error: err?.code ?? err?.message ?? 'closed', ms: now - started });
      const text = received.toString('latin1');
      if (text.startsWith('HTTP/')) {
        const a = parseAnswer(received);
        return finish({ kind: 'answered', status: a?.status ?? -1, code: a?.code, closed: true, ms: now - started, afterSecureMs: now - connectedAt });
      }
      finish({
        kind: 'closed',
        ms: now - started,
        afterSecureMs: now - connectedAt,
        received: received.length,
        firstBytes: received.subarray(0, 16).toString('hex'),
        ...(err ? { error: err.code ?? err.message } : {}),
      });
    };
    socket.on('connect', () => {
      connectedAt = performance.now();
      if (o.payload && o.payload.length > 0) socket.write(o.payload);
    });
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.on('end', () => ended());
    socket.on('close', () => ended());
    socket.on('error', (err) => ended(err));
  });
}

/** Garbage instead of a ClientHello; none of these can be the start of a TLS (or SSLv2) record. */
export const GARBAGE: Buffer[] = [
  Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
  Buffer.from('PATCH /api/client HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n'),
  Buffer.concat([Buffer.from('garbage\x00\xff'), Buffer.alloc(200, 0x5a)]),
  Buffer.alloc(64, 0),
  Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'),
];

/** The first bytes of a TLS record with a ClientHello that says it is 512 bytes long, and never comes. */
export const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

/**
 * Sends `prefix`, then one byte every `everyMs` forever (the header never
 * ends), until stopped: a slowloris over TLS.
 */
export function oneByteAtATime(everyMs: number, prefix = 'PATCH /api/client HTTP/1.1\r\nHost: localhost\r\nX-Slow: '): (s: tls.TLSSocket) => () => void {
  return (s) => {
    let i = 0;
    const timer = setInterval(() => {
      if (!s.writable) return;
      s.write(i < prefix.length ? (prefix[i] as string) : 'a');
      i++;
    }, everyMs);
    return () => clearInterval(timer);
  };
}

/** A request whose header is `size` bytes or more, in one write (one TLS record: under 16 KiB). */
export function oversizedHeader(size: number): (s: tls.TLSSocket) => void {
  const request = `PATCH /api/client HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(size)}\r\nContent-Length: 0\r\n\r\n`;
  if (request.length >= 16_000) throw new Error('oversizedHeader: keep it within one TLS record');
  return (s) => void s.write(request);
}

/** Whether an outcome is what the class's specification asks for. */
export interface Verdict {
  ok: boolean;
  /** A short, stable description to count outcomes by. */
  label: string;
}

export interface FloodResult {
  attempts: number;
  /** label -> count */
  tally: Record<string, number>;
  /** label -> whether that label is the specified answer */
  okLabels: Record<string, boolean>;
  ok: number;
  bad: number;
}

export interface FloodOptions {
  /** Connections the class keeps going at once. */
  concurrency: number;
  /** No attempt starts after this performance.now() time. */
  until: number;
  /** And no more than this many in all. */
  maxAttempts: number;
  attempt: (n: number) => Promise<Outcome>;
  judge: (o: Outcome) => Verdict;
  /** Pause between a worker's attempts, so that a refused connection does not spin. */
  pauseMs: number;
}

/** Runs `concurrency` workers that repeat `attempt` until the deadline or the count; counts verdicts by label. */
export async function flood(o: FloodOptions): Promise<FloodResult> {
  const r: FloodResult = { attempts: 0, tally: {}, okLabels: {}, ok: 0, bad: 0 };
  const worker = async () => {
    while (performance.now() < o.until && r.attempts < o.maxAttempts) {
      const n = r.attempts++;
      const v = o.judge(await o.attempt(n));
      r.tally[v.label] = (r.tally[v.label] ?? 0) + 1;
      r.okLabels[v.label] = v.ok;
      if (v.ok) r.ok++;
      else r.bad++;
      await sleep(o.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return r;
}

/** "label ×count" lines, the specified ones marked ✓, the others ✗. */
export function describeFlood(name: string, r: FloodResult): string {
  const lines = Object.entries(r.tally)
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `    ${r.okLabels[label] ? '✓' : '✗'} ${n} × ${label}`);
  return `${name}: ${r.attempts} connections, ${r.ok} as specified, ${r.bad} not\n${lines.join('\n')}`;
}

/** Rounds a duration into a coarse bucket, so labels stay few. */
export function bucket(ms: number): string {
  if (ms < 100) return '<0.1 s';
  if (ms < 1000) return '<1 s';
  return `${Math.ceil(ms / 1000)} s`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface PatchResult {
  status: number;
  /** The error code or message when there was no answer. */
  error?: string;
  /** Local address and port of the connection: what the server records and announces. */
  ip: string;
  port: number;
}

/**
 * One verified PATCH /api/client: over `agent` (kept alive) or, without one,
 * on a new connection from `localAddress`. Never rejects.
 */
export function patch(
  target: Target,
  o: { agent?: https.Agent; identity: Identity; localAddress?: string; timeoutMs: number },
): Promise<PatchResult> {
  return new Promise((resolve) => {
    let done = false;
    const settle = (r: PatchResult) => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = https.request(
      {
        host: '127.0.0.1',
        port: target.port,
        servername: 'localhost',
        path: '/api/client',
        method: 'PATCH',
        headers: { 'content-length': '0' },
        timeout: o.timeoutMs,
        ...(o.agent ? { agent: o.agent } : { agent: false, ca: target.ca, cert: o.identity.cert, key: o.identity.key, localAddress: o.localAddress }),
      },
      (res) => {
        const ip = res.socket.localAddress ?? '';
        const port = res.socket.localPort ?? 0;
        res.resume();
        res.on('end', () => settle({ status: res.statusCode ?? 0, ip, port }));
        res.on('error', (err: Error & { code?: string }) => settle({ status: 0, error: err.code ?? err.message, ip, port }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'TIMEOUT' })));
    req.on('error', (err: Error & { code?: string }) => settle({ status: 0, error: err.code ?? err.message, ip: '', port: 0 }));
    req.end();
  });
}

/** An agent with one kept-alive connection for `identity`, from `localAddress`. */
export function keepAliveAgent(target: Target, identity: Identity, localAddress?: string): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets: 1, ca: target.ca, cert: identity.cert, key: identity.key, localAddress });
}

/** A process's resident set (VmRSS) and its peak so far (VmHWM), in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // gone
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Samples `pid`'s VmRSS every `everyMs` until stopped; the peak seen, and the kernel's own peak (VmHWM). */
export function sampleMemory(pid: number, everyMs: number): { stop(): { peakRss: number; hwm: number; samples: number } } {
  let peakRss = 0;
  let hwm = 0;
  let samples = 0;
  const take = () => {
    const m = memoryOf(pid);
    if (!m) return;
    samples++;
    peakRss = Math.max(peakRss, m.rss);
    hwm = Math.max(hwm, m.hwm);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { peakRss, hwm, samples };
    },
  };
}

// ---------------------------------------------------------------------------
// The hostile classes of the soak test (issue #10), and a child process that
// floods the server with all of them at once, so that the verified clients in
// the test process are not slowed by the flood's own sockets and handshakes
// (a verified client's handshake time is what the server's eviction of
// unverified connections races against).

export interface HostileParams {
  port: number;
  /** The server's CA file. */
  ca: string;
  identities: Record<'client' | 'otherCa' | 'expired' | 'badCn', { cert: string; key: string }>;
  /** No attempt starts later than this long after the flood starts. */
  loadMs: number;
  handshakeTimeoutMs: number;
  headerTimeoutMs: number;
  /** Node checks header timeouts every min(1 s, headersTimeout): a slow header is cut off up to that much late. */
  headerCheckIntervalMs: number;
  maxHeaderSize: number;
  /** Room for a loaded, slow machine on top of every "closed within" bound. */
  slackMs: number;
  /** How long after an identity refusal the server has to close the connection. */
  closeWaitMs: number;
  /** The longest any one hostile connection is kept. */
  probeBoundMs: number;
}

export interface HostileClass {
  name: string;
  /** The specified answer, in words. */
  spec: string;
  /** Source address: each class is its own client. */
  address: string;
  concurrency: number;
  pauseMs: number;
  maxAttempts: number;
  /** The server itself must answer (HTTP); a connection cut off is then only allowed as a connection-limit shed. */
  mustAnswer: boolean;
  attempt: (n: number) => Promise<Outcome>;
  judge: (o: Outcome) => Verdict;
}

/** Marks the labels of connections cut off without their answer. */
export const CUT_OFF = '[connection limit]';

/**
 * Cut off without an answer: before or after the TLS handshake, the server
 * closed or reset the connection. For an unverified connection this is the
 * specified behaviour at the connection limit (README, serve:
 * --max-connections; src/server/connections.ts): the oldest unverified
 * connection is closed to make room, and a newcomer is refused only when
 * every connection is verified. So it is allowed for every hostile class,
 * counted, and the soak test checks that the server's own count of shed
 * connections covers them.
 */
function cutOff(o: Outcome): Verdict | undefined {
  if (o.kind === 'refused') return { ok: true, label: `cut off before the TLS handshake ended (${o.error}) ${CUT_OFF}` };
  if (o.kind === 'closed') return { ok: true, label: `closed after the handshake without an answer${o.error ? ` (${o.error})` : ''} ${CUT_OFF}` };
  return undefined;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** (a)-(d): 400 with `code` (and `reason`), then the server closes the connection. */
function identityRefusal(code: string, closeWaitMs: number, reason?: string): (o: Outcome) => Verdict {
  return (o) => {
    if (o.kind === 'answered') {
      const what = `${o.status} ${o.code ?? '-'}${o.reason ? ` ${o.reason}` : ''}`;
      const right = o.status === 400 && o.code === code && (reason === undefined || o.reason === reason);
      if (!right) return { ok: false, label: `answered ${what}` };
      return o.closed ? { ok: true, label: `${what}, then closed` } : { ok: false, label: `${what}, but the connection stayed open ${seconds(closeWaitMs)} after it` };
    }
    return cutOff(o) ?? { ok: false, label: `no answer and still open after ${seconds(o.ms)}` };
  };
}

/** (e), (f): the server closes the TCP connection, with no HTTP answer, within `withinMs` of connecting. */
function closedWithoutAnswer(withinMs: number): (o: Outcome) => Verdict {
  return (o) => {
    if (o.kind === 'answered') return { ok: false, label: `answered HTTP ${o.status}` };
    if (o.kind === 'open') return { ok: false, label: `still open after ${seconds(o.ms)}` };
    if (o.kind === 'refused') return { ok: true, label: `closed at once (${o.error})` };
    const sent = o.received > 0 ? ` after ${o.received} bytes (${o.firstBytes}…)` : '';
    if (o.afterSecureMs > withinMs) return { ok: false, label: `closed only after ${bucket(o.afterSecureMs)}${sent}` };
    return { ok: true, label: `closed within ${bucket(o.afterSecureMs)}${sent}` };
  };
}

/** (g): 408 request_timeout or a close, within `withinMs` of the handshake. */
function slowHeader(withinMs: number): (o: Outcome) => Verdict {
  return (o) => {
    if (o.kind === 'answered') {
      const what = `${o.status} ${o.code ?? '-'}`;
      if (o.status !== 408) return { ok: false, label: `answered ${what}` };
      return o.afterSecureMs <= withinMs ? { ok: true, label: `${what} within ${bucket(o.afterSecureMs)}` } : { ok: false, label: `${what} only after ${bucket(o.afterSecureMs)}` };
    }
    if (o.kind === 'closed') {
      return o.afterSecureMs <= withinMs ? { ok: true, label: `closed within ${bucket(o.afterSecureMs)}` } : { ok: false, label: `closed only after ${bucket(o.afterSecureMs)}` };
    }
    if (o.kind === 'refused') return { ok: true, label: `closed before the TLS handshake ended (${o.error})` };
    return { ok: false, label: `still open after ${seconds(o.ms)}` };
  };
}

/** (h): 431. */
function headerTooLarge(o: Outcome): Verdict {
  if (o.kind === 'answered') return o.status === 431 ? { ok: true, label: `431 ${o.code ?? '-'}` } : { ok: false, label: `answered ${o.status} ${o.code ?? '-'}` };
  return cutOff(o) ?? { ok: false, label: `no answer and still open after ${seconds(o.ms)}` };
}

/**
 * The eight hostile classes. Concurrency: the classes that hold connections
 * (stalled handshakes, slow headers) alone exceed a --max-connections of 64;
 * the others come and go. Pauses keep the rate of new connections (and
 * handshakes) modest on 2 cores. `ids` is needed only to run them.
 */
export function hostileClasses(p: HostileParams, ids?: Record<keyof HostileParams['identities'], Identity>): HostileClass[] {
  const target: Target = { port: p.port, ca: ids ? readFileSync(p.ca) : Buffer.alloc(0) };
  const id = (k: keyof HostileParams['identities']) => ids?.[k] as Identity;
  const overTls = (address: string) => ({ ...target, localAddress: address, closeWaitMs: p.closeWaitMs, boundMs: p.probeBoundMs });
  const handshakeBound = p.handshakeTimeoutMs + p.slackMs;
  const headerBound = p.headerTimeoutMs + p.headerCheckIntervalMs + p.slackMs;
  const common = { maxAttempts: 2_000 };
  return [
    {
      ...common,
      name: '(a) no client certificate',
      spec: '400 no_certificate, then the server closes the connection',
      address: '127.0.0.21',
      concurrency: 12,
      pauseMs: 150,
      mustAnswer: true,
      attempt: () => tlsProbe(overTls('127.0.0.21')),
      judge: identityRefusal('no_certificate', p.closeWaitMs),
    },
    {
      ...common,
      name: '(b) certificate from another CA',
      spec: '400 certificate_invalid, then closed',
      address: '127.0.0.22',
      concurrency: 12,
      pauseMs: 150,
      mustAnswer: true,
      attempt: () => tlsProbe({ ...overTls('127.0.0.22'), identity: id('otherCa') }),
      judge: identityRefusal('certificate_invalid', p.closeWaitMs),
    },
    {
      ...common,
      name: '(c) expired certificate',
      spec: '400 certificate_invalid CERT_HAS_EXPIRED, then closed',
      address: '127.0.0.23',
      concurrency: 12,
      pauseMs: 150,
      mustAnswer: true,
      attempt: () => tlsProbe({ ...overTls('127.0.0.23'), identity: id('expired') }),
      judge: identityRefusal('certificate_invalid', p.closeWaitMs, 'CERT_HAS_EXPIRED'),
    },
    {
      ...common,
      name: '(d) CN that is not an email',
      spec: '400 invalid_cn, then closed',
      address: '127.0.0.24',
      concurrency: 12,
      pauseMs: 150,
      mustAnswer: true,
      attempt: () => tlsProbe({ ...overTls('127.0.0.24'), identity: id('badCn') }),
      judge: identityRefusal('invalid_cn', p.closeWaitMs),
    },
    {
      ...common,
      name: '(e) garbage instead of a ClientHello',
      spec: `the server closes the TCP connection without an HTTP answer (within ${seconds(handshakeBound)})`,
      address: '127.0.0.25',
      concurrency: 8,
      pauseMs: 150,
      mustAnswer: false,
      attempt: (n) => rawProbe({ port: p.port, localAddress: '127.0.0.25', payload: GARBAGE[n % GARBAGE.length], boundMs: p.probeBoundMs }),
      judge: closedWithoutAnswer(handshakeBound),
    },
    {
      ...common,
      name: '(f) stalled handshake',
      spec: `closed by the server within the handshake timeout (${p.handshakeTimeoutMs} ms + ${p.slackMs} ms slack)`,
      address: '127.0.0.26',
      concurrency: 48,
      pauseMs: 50,
      mustAnswer: false,
      // Half of them send nothing at all, half a ClientHello that never ends.
      attempt: (n) => rawProbe({ port: p.port, localAddress: '127.0.0.26', payload: n % 2 === 0 ? undefined : HALF_CLIENT_HELLO, boundMs: p.probeBoundMs }),
      judge: closedWithoutAnswer(handshakeBound),
    },
    {
      ...common,
      name: '(g) headers one byte at a time',
      spec: `408 request_timeout or closed within the header timeout (${p.headerTimeoutMs} ms + ${p.headerCheckIntervalMs} ms check interval + ${p.slackMs} ms slack)`,
      address: '127.0.0.27',
      concurrency: 16,
      pauseMs: 50,
      mustAnswer: false,
      // With the valid certificate (a verified slow client) and without one.
      attempt: (n) => tlsProbe({ ...overTls('127.0.0.27'), identity: n % 2 === 0 ? id('client') : undefined, send: oneByteAtATime(100) }),
      judge: slowHeader(headerBound),
    },
    {
      ...common,
      name: '(h) oversized headers',
      spec: `431 for a header over --max-header-size ${p.maxHeaderSize}`,
      address: '127.0.0.28',
      concurrency: 8,
      pauseMs: 150,
      mustAnswer: true,
      attempt: () => tlsProbe({ ...overTls('127.0.0.28'), send: oversizedHeader(2 * p.maxHeaderSize) }),
      judge: headerTooLarge,
    },
  ];
}

export interface ClassResult {
  name: string;
  spec: string;
  mustAnswer: boolean;
  result: FloodResult;
  /** Connections cut off without their answer (labels marked CUT_OFF). */
  cutOff: number;
}

export interface HostileReport {
  classes: ClassResult[];
  /** The flood process's own event-loop delay. */
  lagMs: { p99: number; max: number };
}

/** Every class at once, for `p.loadMs`. */
export async function runHostile(p: HostileParams): Promise<HostileReport> {
  const ids = {
    client: loadIdentity(p.identities.client),
    otherCa: loadIdentity(p.identities.otherCa),
    expired: loadIdentity(p.identities.expired),
    badCn: loadIdentity(p.identities.badCn),
  };
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const until = performance.now() + p.loadMs;
  const classes = hostileClasses(p, ids);
  const results = await Promise.all(classes.map((c) => flood({ concurrency: c.concurrency, until, maxAttempts: c.maxAttempts, pauseMs: c.pauseMs, attempt: c.attempt, judge: c.judge })));
  lag.disable();
  return {
    classes: classes.map((c, i) => {
      const result = results[i] as FloodResult;
      const cut = Object.entries(result.tally).reduce((n, [label, count]) => n + (label.endsWith(CUT_OFF) ? count : 0), 0);
      return { name: c.name, spec: c.spec, mustAnswer: c.mustAnswer, result, cutOff: cut };
    }),
    lagMs: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
  };
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs the flood in a child process (this file as a script); killed by its
 * PID if it outlives `p.loadMs + p.probeBoundMs + 20 s`.
 */
export function spawnHostile(p: HostileParams): { pid: number; done: Promise<HostileReport> } {
  const child = spawn(process.execPath, [SELF, JSON.stringify(p)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), p.loadMs + p.probeBoundMs + 20_000);
  const done = new Promise<HostileReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as HostileReport);
      else reject(new Error(`the hostile flood exited with ${code ?? signal}: ${err}`));
    });
  });
  return { pid: child.pid as number, done };
}

if (process.argv[1] !== undefined && resolvePath(process.argv[1]) === SELF) {
  const report = await runHostile(JSON.parse(process.argv[2] as string) as HostileParams);
  process.stdout.write(JSON.stringify(report));
}
