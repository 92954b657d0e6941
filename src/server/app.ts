// The HTTP side of `qtstatus serve` (issue #4): routes, the status update,
// and every error as JSON {code, message} with the right status.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { QtError } from '../errors.ts';
import { plainIp } from '../net/address.ts';
import { encode } from '../protocol/packet.ts';
import { msToIso } from '../protocol/time.ts';
import type { Store } from '../store/store.ts';
import type { UdpSender } from '../net/udp-sender.ts';
import { normalSerial, type RevocationList } from '../pki/crl.ts';
import { tcpSocket, type ConnectionGuard } from './connections.ts';
import { identifyTlsPeer, invalidCertificate, NO_CERTIFICATE, stillValid, type Identity, type Refused, type Verified } from './identity.ts';
import type { ServerMetrics } from './metrics.ts';
import { identifyProxied, type ProxyOptions } from './proxy.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface RequestLog {
  time: string;
  id: string;
  method: string;
  path: string;
  status: number;
  code?: string;
  identity?: string;
  ip?: string;
  port?: number;
  ms: number;
}

export interface AppOptions {
  store: Store;
  sender: UdpSender;
  clock: () => bigint;
  autoEnroll: boolean;
  limiter?: RateLimiter;
  /** Plain-HTTP mode behind a proxy: whose headers to believe. */
  proxy?: ProxyOptions;
  /** The connections, by TCP socket (./connections.ts). */
  guard: ConnectionGuard;
  /** The current CRL, replaced on reload; `failClosed`: refuse everyone once it is past its next update. */
  revocation: Revocation;
  maxConnectionAgeMs: number;
  maxBodyBytes: number;
  metrics: ServerMetrics;
  onLog?: (entry: RequestLog) => void;
  onStoreError?: (err: unknown) => void;
}

export interface Revocation {
  list?: RevocationList;
  failClosed: boolean;
}

/** Past its next update (RFC 5280 §5.1.2.5). */
export function crlExpired(list: RevocationList | undefined, nowMs: number): boolean {
  return list?.nextUpdateMs !== undefined && nowMs > list.nextUpdateMs;
}

const API = '/api/client';
const identities = new WeakMap<object, Identity>();

/**
 * Revoked (with the CRL's reason, RFC 5280 §5.3.1), or refused because the
 * CRL is out of date and the policy says fail closed.
 */
function revokedBy(r: Revocation, serial: string, nowMs: number): Refused | undefined {
  const entry = serial === '' ? undefined : r.list?.revoked.get(serial);
  if (entry) return invalidCertificate('CERT_REVOKED', entry.reason);
  if (r.failClosed && crlExpired(r.list, nowMs)) return invalidCertificate('CRL_HAS_EXPIRED');
  return undefined;
}

/** Called once per TLS connection, right after the handshake. */
export function rememberIdentity(socket: TLSSocket, guard: ConnectionGuard, crl: Revocation): void {
  let id = identifyTlsPeer(socket);
  if (!id.ok && id.reason === 'CERT_REVOKED') id = revokedBy(crl, normalSerial(socket.getPeerX509Certificate()?.serialNumber ?? ''), Date.now()) ?? id;
  identities.set(socket, id);
  if (id.ok) guard.verify(tcpSocket(socket), id);
  else guard.refuse(tcpSocket(socket));
}

/** The checks that cannot wait for the next handshake (issue #10, defect 5). */
function lateRefusal(id: Verified, nowMs: number, crl: Revocation): Refused | undefined {
  return stillValid(id, nowMs) ?? revokedBy(crl, id.serial, nowMs);
}

const idPrefix = Math.floor(Math.random() * 0xffffff).toString(36);
let idCounter = 0;

export function createApp(o: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = o.metrics;

  return (req, res) => {
    const started = performance.now();
    const id = ++idCounter;
    const target = req.url ?? '/';
    // absolute-form request targets (RFC 9112 §3.2.2) name the path too.
    const path = (target.startsWith('/') ? target : target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') || '/').split('?', 1)[0] as string;
    const route = path === API ? 'api_client' : path === '/healthz' ? 'healthz' : 'other';
    let identity: string | undefined;
    let ip: string | undefined;
    let port: number | undefined;
    let code: string | undefined;

    const finish = (status: number, body?: { code: string; message: string } | object, headers?: Record<string, string | number>) => {
      if (res.headersSent) return;
      if (body && 'code' in body) code = (body as { code: string }).code;
      if (body === undefined) {
        res.writeHead(status, headers);
        res.end();
      } else {
        const payload = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
        res.end(payload);
      }
      const ms = performance.now() - started;
      metrics.answered(route, status, ms / 1000);
      o.onLog?.({ time: msToIso(Date.now()), id: `${idPrefix}-${id.toString(36)}`, method: req.method ?? '', path, status, code, identity, ip, port, ms: Math.round(ms * 1000) / 1000 });
    };
    const fail = (status: number, c: string, message: string, extra: object = {}, headers: Record<string, string | number> = {}) =>
      finish(status, { code: c, message, ...extra }, headers);

    if (route === 'healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method_not_allowed', 'use GET', {}, { allow: 'GET, HEAD' });
      o.store.check().then(
        () => finish(200, { status: 'ok' }),
        (err) => {
          metrics.storeErrors.inc();
          o.onStoreError?.(err);
          const why = err instanceof QtError ? err.message : 'the store does not answer';
          fail(503, 'store_unavailable', why, { status: 'degraded' });
        },
      );
      return;
    }
    if (route === 'other') return fail(404, 'not_found', `no route ${path}`);
    if (req.method !== 'PATCH') return fail(405, 'method_not_allowed', `use PATCH on ${API}`, {}, { allow: 'PATCH' });

    // Who is it? One central check that no route can bypass.
    const now = Date.now();
    let peer: Identity & { ip?: string; port?: number } = o.proxy ? identifyProxied(req, o.proxy) : (identities.get(req.socket) ?? NO_CERTIFICATE);
    if (peer.ok) peer = lateRefusal(peer, now, o.revocation) ?? peer;
    // IPv4-mapped as plain IPv4, once: as logged, stored and announced.
    const clientIp = plainIp(peer.ip ?? req.socket.remoteAddress ?? '');
    ip = clientIp;
    port = peer.port ?? req.socket.remotePort ?? 0;
    if (!peer.ok) {
      metrics.clientVerifyFailures.inc({ reason: peer.reason ?? peer.code });
      // As nginx does: a refused identity gets its answer and the connection
      // goes, so refused clients cannot hold connections (issue #10, defect 4).
      // Behind a proxy the connection is the proxy's.
      return fail(400, peer.code, peer.message, peer.reason ? { reason: peer.reason } : {}, o.proxy ? {} : { connection: 'close' });
    }
    identity = peer.email;
    if (!o.proxy && o.maxConnectionAgeMs > 0 && now - (o.guard.openedAt(tcpSocket(req.socket)) ?? now) > o.maxConnectionAgeMs) {
      res.setHeader('connection', 'close'); // handshake again, with the certificate of today
    }

    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxBodyBytes) {
      return fail(413, 'payload_too_large', `request body over ${o.maxBodyBytes} bytes`, {}, { connection: 'close' });
    }
    const wait = o.limiter?.take(peer.email, now) ?? 0;
    if (wait > 0) return fail(429, 'rate_limited', `too many requests for ${peer.email}`, {}, { 'retry-after': wait });

    // The body carries nothing we need, but it must be read (and bounded)
    // before the answer so the connection can be reused. With a
    // Content-Length the parser already holds it to the size checked above;
    // only a chunked body needs counting.
    if (req.headers['transfer-encoding'] === undefined) req.resume();
    else {
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > o.maxBodyBytes) {
          fail(413, 'payload_too_large', `request body over ${o.maxBodyBytes} bytes`, {}, { connection: 'close' });
          req.destroy();
        }
      });
    }
    req.on('end', () => {
      if (res.headersSent) return;
      const email = peer.email as string;
      o.store.recordSeen({ email, nowNs: o.clock(), ip: clientIp, port: port as number, enroll: o.autoEnroll }).then(
        (seen) => {
          if (!seen) return fail(403, 'user_unknown', 'User unknown');
          try {
            // What the store holds: this update, or a newer one (another
            // server's) with its own address (issue #11).
            o.sender.send(encode({ email, lastSeenNs: seen.lastSeenNs, ip: seen.ip, port: seen.port }));
          } catch {
            o.sender.stats.failed++; // a packet that cannot be sent never fails the request
          }
          finish(204);
        },
        (err) => {
          metrics.storeErrors.inc();
          o.onStoreError?.(err);
          fail(503, 'store_unavailable', 'the update could not be stored; try again');
        },
      );
    });
  };
}
