// undici's connector, written here rather than taken from undici: it opens
// TCP and then TLS itself so that each connection's timings (DNS, TCP, TLS)
// are measured like curl's -w, the server's certificate can still be read and
// described when verification fails, the bytes the server sent before a
// failure are known (a reset mid-handshake is not a reset before it), and TLS
// session resumption is ours to turn off (--new-connection: full handshakes).

import { X509Certificate } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import net, { isIP } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';
import type { Credentials } from './credentials.ts';

/** One TCP+TLS connection; times are performance.now() values. */
export interface ConnectionInfo {
  id: number;
  host: string;
  port: number;
  startedAt: number;
  lookupAt?: number;
  connectedAt?: number;
  secureAt?: number;
  remoteAddress?: string;
  remotePort?: number;
  localPort?: number;
  protocol?: string;
  cipher?: string;
  sessionReused: boolean;
  /** Requests written on this connection so far. */
  requests: number;
  /** Raw bytes the server had sent when the connection failed (0: nothing at all). */
  bytesReceived: number;
  /** A socket error after the handshake, e.g. the TLS alert of a server that refused our certificate. */
  error?: Error & { code?: string };
  /** The server's certificate, kept when verifying it failed. */
  peer?: X509Certificate;
}

/** A connection that failed before it could carry a request. */
export class ConnectFailure extends Error {
  override readonly name = 'ConnectFailure';
  readonly code: string | undefined;
  readonly connection: ConnectionInfo;

  constructor(cause: Error & { code?: string }, connection: ConnectionInfo) {
    super(cause.message, { cause });
    this.code = cause.code;
    this.connection = connection;
  }
}

/** The code of the error a connection attempt gets when it takes too long. */
export const CONNECT_TIMEOUT = 'QT_CONNECT_TIMEOUT';

export interface ConnectorOptions {
  credentials: Credentials;
  /** Accept any server certificate (curl -k). */
  insecure: boolean;
  /** For DNS, TCP and the TLS handshake together. */
  timeoutMs: number;
  /** false: no TLS session resumption, every connection makes a full handshake. */
  resumeSessions: boolean;
  /** Each connection that is ready for requests. */
  onConnection?: (c: ConnectionInfo) => void;
}

const connections = new WeakMap<object, ConnectionInfo>();
let claim: ((c: ConnectionInfo) => void) | undefined;
let subscribed = false;

// undici publishes the socket each request is written on, synchronously
// after the handler's onRequestStart: that pairs a request with its
// connection without guessing, even with many requests in flight.
function onSendHeaders(message: unknown): void {
  const c = connections.get((message as { socket: object }).socket);
  const take = claim;
  claim = undefined;
  if (c === undefined) return;
  c.requests++;
  take?.(c);
}

/** Call from onRequestStart: `take` receives the connection the request is about to be written on. */
export function claimConnection(take: (c: ConnectionInfo) => void): void {
  claim = take;
}

function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  try {
    const raw = socket.getPeerCertificate().raw;
    return raw ? new X509Certificate(raw) : undefined;
  } catch {
    return undefined;
  }
}

export function createConnector(o: ConnectorOptions): buildConnector.connector {
  if (!subscribed) {
    diagnostics.subscribe('undici:client:sendHeaders', onSendHeaders);
    subscribed = true;
  }
  // Sessions of this identity only: a session resumed under another client
  // certificate would be that client's (this is why each identity has its own Agent).
  const sessions = new Map<string, Buffer>();
  let nextId = 1;
  const { client, ca } = o.credentials;

  return ({ hostname, port }, callback) => {
    const servername = isIP(hostname) === 0 ? hostname : undefined;
    const info: ConnectionInfo = {
      id: nextId++,
      host: hostname,
      port: Number(port) || 443,
      startedAt: performance.now(),
      sessionReused: false,
      requests: 0,
      bytesReceived: 0,
    };
    const tcp = net.connect({ host: hostname, port: info.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    const socket = tls.connect({
      socket: tcp,
      host: hostname,
      servername,
      ca,
      cert: client?.cert,
      key: client?.key,
      // Verified below, where the server's certificate can still be described;
      // no socket reaches undici unless it is authorized (or --insecure).
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      session: o.resumeSessions ? sessions.get(hostname) : undefined,
    });
    let settled = false;
    const settle = (err: (Error & { code?: string }) | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) return callback(null, socket);
      info.bytesReceived = tcp.bytesRead;
      socket.destroy();
      callback(new ConnectFailure(err, info), null);
    };
    const timer = setTimeout(() => {
      const phase = info.connectedAt === undefined ? 'connection' : 'TLS handshake';
      settle(Object.assign(new Error(`no ${phase} within ${o.timeoutMs} ms`), { code: CONNECT_TIMEOUT }));
    }, o.timeoutMs);
    // TLS reports the TCP socket's errors too; this catches any it would not.
    tcp.on('error', (err: Error & { code?: string }) => settle(err));
    tcp.once('lookup', () => (info.lookupAt = performance.now()));
    tcp.once('connect', () => {
      info.connectedAt = performance.now();
      info.remoteAddress = tcp.remoteAddress;
      info.remotePort = tcp.remotePort;
      info.localPort = tcp.localPort;
    });
    if (o.resumeSessions) socket.on('session', (s: Buffer) => sessions.set(hostname, s));
    socket.on('error', (err: Error & { code?: string }) => {
      if (settled) info.error ??= err;
      else settle(err);
    });
    socket.once('secureConnect', () => {
      info.secureAt = performance.now();
      info.protocol = socket.getProtocol() ?? undefined;
      info.cipher = socket.getCipher()?.standardName;
      info.sessionReused = socket.isSessionReused();
      if (!socket.authorized && !o.insecure) {
        info.peer = peerCertificate(socket);
        const reason = String(socket.authorizationError);
        return settle(Object.assign(new Error(reason), { code: reason }));
      }
      connections.set(socket, info);
      o.onConnection?.(info);
      settle(null);
    });
  };
}
