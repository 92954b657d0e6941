// `qtstatus serve` as a library (issue #4): the HTTPS server with client
// certificates (or plain HTTP behind a trusted proxy), its limits, graceful
// shutdown and certificate reload.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ErrorCodes, QtError } from '../errors.ts';
import type { RevocationList } from '../pki/crl.ts';
import { createApp, crlExpired, rememberIdentity, type AppOptions } from './app.ts';
import { ConnectionGuard, type ShedReason } from './connections.ts';
import { isTrusted } from './proxy.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  crl?: Buffer;
  /** The CRL as read and checked against the CA (../pki/crl.ts). */
  revocation?: RevocationList;
  /** When the server certificate, the (first-expiring) CA and the CRL's next update fall due, ms since the epoch. */
  expiry?: { serverMs: number; caMs: number; crlMs?: number };
}

/** What to do once the CRL is past its next update: refuse every client (as OpenSSL and nginx do), or go on with the list as it was. */
export type ExpiredCrlPolicy = 'refuse' | 'accept';


export interface Limits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderSize: number;
  maxConnections: number;
  /** Per client address; at the limit unverified connections yield (./connections.ts). */
  maxConnectionsPerAddress: number;
  /** A connection older than this is closed after its next answer: the client handshakes again (0: no limit). */
  maxConnectionAgeMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  maxHeaderSize: 8192,
  maxConnections: 10_000,
  // Enough for a large NAT'd office of heartbeating devices; one host's flood
  // of unverified connections only ever evicts its own (./connections.ts).
  maxConnectionsPerAddress: 256,
  // nginx's keepalive_time default: a revoked or replaced certificate stops
  // riding on an old connection within the hour even without a CRL.
  maxConnectionAgeMs: 3_600_000,
};

export interface ServerOptions extends Omit<AppOptions, 'guard' | 'revocation' | 'maxConnectionAgeMs'> {
  host: string;
  port: number;
  /** A socket already listening (systemd socket activation, sd_listen_fds(3)): served instead of host and port. */
  listenFd?: number;
  /** TLS with client certificates; absent in trusted-proxy mode. */
  tls?: TlsMaterial;
  limits: Limits;
  onTlsError?: (err: Error & { code?: string }, socket: Socket) => void;
  /** The CRL in proxy mode, where nginx verifies (with its own ssl_crl); in TLS mode tls.revocation. */
  revocation?: RevocationList;
  expiredCrl?: ExpiredCrlPolicy;
}

export interface RunningServer {
  address: AddressInfo;
  url: string;
  /**
   * New certificate, key, CA and CRL for new handshakes; open connections
   * stay, but those of certificates the new CRL revokes are closed. Returns
   * how many were closed.
   */
  reload(tls: TlsMaterial): number;
  /** Behind a proxy: a new CRL; closes nothing (the connections are the proxy's). */
  setRevocation(list: RevocationList | undefined): void;
  /** Stops accepting, lets requests in flight finish within graceMs, then closes. */
  close(graceMs: number): Promise<void>;
}

/**
 * With an expired CRL and the 'accept' policy, OpenSSL gets no CRL (it would
 * refuse every certificate); the expired list's serials are still refused
 * per request (./app.ts).
 */
function tlsOptions(m: TlsMaterial, policy: ExpiredCrlPolicy): https.ServerOptions {
  return {
    cert: m.cert,
    key: m.key,
    ca: m.ca,
    crl: policy === 'accept' && crlExpired(m.revocation, Date.now()) ? undefined : m.crl,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    // http/1.0 too, so `curl --http1.0` is answered (as nginx does) rather than refused in ALPN.
    ALPNProtocols: ['http/1.1', 'http/1.0'],
  };
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const guard = new ConnectionGuard(o.limits, (reason: ShedReason) => o.metrics.connectionsShed.inc({ reason }));
  const policy = o.expiredCrl ?? 'refuse';
  const revocation = { list: o.tls?.revocation ?? o.revocation, failClosed: policy === 'refuse' };
  const app = createApp({ ...o, guard, revocation, maxConnectionAgeMs: o.limits.maxConnectionAgeMs });
  const common: http.ServerOptions = {
    maxHeaderSize: o.limits.maxHeaderSize,
    headersTimeout: o.limits.headersTimeoutMs,
    requestTimeout: o.limits.requestTimeoutMs,
    keepAliveTimeout: o.limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, o.limits.headersTimeoutMs),
  };
  let server: http.Server | https.Server;
  if (o.tls) {
    let secure: https.ServerOptions;
    try {
      secure = tlsOptions(o.tls, policy);
      server = https.createServer({ ...common, ...secure, handshakeTimeout: o.limits.handshakeTimeoutMs }, app);
    } catch (err) {
      throw new QtError(ErrorCodes.CERT, 'cannot use the server certificate, key or CA', {
        cause: err,
        reason: 'tls_context_failed',
        setting: 'cert',
      });
    }
    server.on('secureConnection', (socket: TLSSocket) => rememberIdentity(socket, guard, revocation));
    server.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => {
      o.metrics.handshakeErrors.inc({ reason: err.code ?? 'unknown' });
      o.onTlsError?.(err, socket);
      socket.destroy(); // with a listener here, Node leaves this to us
    });
  } else {
    server = http.createServer(common, app);
  }
  // Limits are the guard's (not server.maxConnections, which refuses the
  // newcomer whoever holds the others).
  server.on('connection', (socket: Socket) => {
    if (!guard.admit(socket, Date.now(), o.proxy !== undefined && isTrusted(o.proxy.trusted, socket.remoteAddress))) {
      socket.destroy();
      return;
    }
    o.metrics.connections.inc();
    socket.once('close', () => o.metrics.connections.dec());
  });
  // A client error (bad request line, oversized header, timeout) gets a bare
  // answer where the socket still can, and never reaches the process.
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (!socket.writable || (err.code === 'ECONNRESET')) return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ code: status === 431 ? 'header_too_large' : status === 408 ? 'request_timeout' : 'bad_request', message: err.message });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = o.listenFd !== undefined ? `the socket systemd passed (fd ${o.listenFd})` : `${o.host}:${o.port}`;
      reject(
        new QtError(ErrorCodes.NETWORK, `cannot listen on ${where}`, {
          cause: err,
          reason: err.code === 'EADDRINUSE' ? 'address_in_use' : 'listen_failed',
          setting: 'port',
          value: o.port,
          facts: { host: o.host, port: o.port, listenFd: o.listenFd },
        }),
      );
    });
    const done = () => {
      server.removeAllListeners('error');
      resolve();
    };
    if (o.listenFd !== undefined) server.listen({ fd: o.listenFd }, done);
    else server.listen(o.port, o.host, done);
  });
  server.on('error', () => {}); // after listening, per-connection errors are handled above

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    address,
    url: `${o.tls ? 'https' : 'http'}://${host}:${address.port}`,
    reload(tls) {
      (server as https.Server).setSecureContext(tlsOptions(tls, policy));
      revocation.list = tls.revocation;
      const revoked = tls.revocation?.revoked;
      return revoked ? guard.closeWhere((id) => revoked.has(id.serial)) : 0;
    },
    setRevocation(list) {
      revocation.list = list;
    },
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
