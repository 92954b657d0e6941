// Turns what undici, TLS and the system report into what happened and what to
// do, in plain words: one PingError with a stable kind (for summaries and
// JSON), a QtError code (for exit codes), the message, the cause and a hint.

import type { X509Certificate } from 'node:crypto';
import { ErrorCodes, QtError, type ErrorCode } from '../errors.ts';
import { certificateInfo } from '../pki/inspect.ts';
import { CONNECT_TIMEOUT, ConnectFailure, type ConnectionInfo } from './connect.ts';
import { when, type Credentials } from './credentials.ts';
import type { PingResult } from './ping.ts';
import { hostPort } from '../net/address.ts';
import type { Target } from './target.ts';

export const FAILURE_KINDS = [
  'connection-refused',
  'unreachable',
  'dns',
  'timeout',
  'connection-closed',
  'not-tls',
  'server-untrusted',
  'name-mismatch',
  'tls',
  'certificate-refused',
  'http-status',
  'other',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export class PingError extends QtError {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(code, message, options);
    this.kind = kind;
  }
}

export interface FailureContext {
  target: Target;
  credentials: Credentials;
  timeoutMs: number;
  /** The connection the request was written on, when it got that far. */
  connection?: ConnectionInfo;
}

type CodedError = Error & { code?: string; errors?: unknown[] };

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
// Alerts a server sends about the client's certificate (RFC 8446 6.2);
// handshake_failure is what TLS 1.2 servers send for a missing one.
const CERT_ALERTS = new Set([
  'certificate required',
  'unknown ca',
  'bad certificate',
  'unsupported certificate',
  'certificate revoked',
  'certificate expired',
  'certificate unknown',
  'access denied',
  'decrypt error',
  'handshake failure',
]);

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** "unknown ca" (alert 48) from ERR_SSL_TLSV1_ALERT_UNKNOWN_CA and its message. */
export function tlsAlert(err: CodedError | undefined): { name: string; number?: number } | undefined {
  const m = /^ERR_SSL_(?:TLSV13_|TLSV1_|SSLV3_|SSL\/TLS_)?ALERT_(.+)$/.exec(err?.code ?? '');
  if (!m) return undefined;
  const n = /SSL alert number (\d+)/.exec(err?.message ?? '');
  return { name: (m[1] as string).toLowerCase().replace(/_/g, ' '), ...(n ? { number: Number(n[1]) } : {}) };
}

/** OpenSSL's reason words and Node's code, without the error queue's file and line. */
function sslReason(err: CodedError): string {
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1];
  return reason ? `${reason} (${err.code})` : err.message;
}

const alertText = (a: { name: string; number?: number }) => `TLS alert "${a.name}"${a.number === undefined ? '' : ` (${a.number})`}`;

function names(cert: X509Certificate | undefined): string {
  if (!cert) return 'unknown';
  const n = certificateInfo(cert).names;
  const list = [...n.dns.map((d) => `DNS:${d}`), ...n.ip.map((i) => `IP:${i}`)];
  return list.length > 0 ? list.join(', ') : 'none (no subject alternative names)';
}

/** "the server refused our client certificate", with why and what to do. */
export function certificateRefused(ctx: { credentials: Credentials }, cause: string, hint?: string): PingError {
  const { client, identity } = ctx.credentials;
  if (!client) {
    return new PingError('certificate-refused', ErrorCodes.CERT_REFUSED, 'the server wants a client certificate', {
      cause,
      hint: 'we sent none, as --no-cert asks; give --cert and --key',
    });
  }
  return new PingError('certificate-refused', ErrorCodes.CERT_REFUSED, 'the server refused our client certificate', {
    cause,
    hint:
      hint ??
      `does the server trust "${client.info.issuer}", the CA that signed ${client.certFile}? ` +
        `use a certificate from the server's CA, e.g. made with \`qtstatus certs client ${identity}\` in its certs directory`,
  });
}

function untrusted(code: string, ctx: FailureContext, peer: X509Certificate | undefined): PingError {
  const info = peer ? certificateInfo(peer) : undefined;
  const caFile = ctx.credentials.caFile ?? 'the CA file';
  const ours = ctx.credentials.caInfo.map((c) => `"${c.subject}"`).join(', ') || 'no certificate';
  const tls = (message: string, cause: string, hint: string) => new PingError('server-untrusted', ErrorCodes.TLS, message, { cause: `${cause} (${code})`, hint });
  if (code === 'CERT_HAS_EXPIRED' && info) {
    return tls(`the server's certificate expired on ${when(info.notAfter)}`, `"${info.subject}"`, 'the server needs a new certificate: qtstatus certs server');
  }
  if (code === 'CERT_NOT_YET_VALID' && info) {
    return tls(`the server's certificate is not valid until ${when(info.notBefore)}`, `"${info.subject}"`, 'check the clocks of this computer and of the server');
  }
  const issuer = info ? (info.selfSigned ? `it is self-signed ("${info.subject}")` : `its issuer is "${info.issuer}"`) : 'its issuer is unknown';
  return tls(
    `the server's certificate is not signed by the CA in ${caFile}`,
    `${issuer}; ${caFile} holds ${ours}`,
    "give --ca the CA certificate that signed the server's certificate, e.g. the ca.crt that `qtstatus certs init` made for the server",
  );
}

/** What went wrong with a request that got no HTTP answer. */
export function diagnose(err: unknown, ctx: FailureContext): PingError {
  if (err instanceof PingError) return err;
  const failure = err instanceof ConnectFailure ? err : undefined;
  const conn = failure?.connection ?? ctx.connection;
  const raw = (failure?.cause ?? err) as CodedError;
  // Happy eyeballs (localhost is ::1 and 127.0.0.1) fails with every attempt's error.
  const cause = Array.isArray(raw?.errors) && raw.errors.length > 0 ? (raw.errors[0] as CodedError) : raw;
  const code = cause?.code ?? (err as CodedError)?.code ?? '';
  const where = hostPort(ctx.target.host, ctx.target.port);
  const connect = (kind: FailureKind, message: string, hint: string, withCause: unknown = cause) =>
    new PingError(kind, ErrorCodes.CONNECT, message, { cause: withCause, hint });

  if (failure) {
    if (code === CONNECT_TIMEOUT) {
      return conn?.connectedAt === undefined
        ? connect('timeout', `no connection to ${where} within ${formatMs(ctx.timeoutMs)}`, 'the host may be down or a firewall drops the packets; --timeout waits longer', null)
        : connect('timeout', `the TLS handshake with ${where} did not finish within ${formatMs(ctx.timeoutMs)}`, 'is this port a TLS server? --timeout waits longer', null);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_FAIL' || code === 'EAI_NODATA') {
      return connect('dns', `cannot resolve the host name ${ctx.target.host}`, "check the host name in the URL");
    }
    if (code === 'EAI_AGAIN') {
      return connect('dns', `cannot resolve the host name ${ctx.target.host}`, 'the name server did not answer; check the network and try again');
    }
    if (code === 'ECONNREFUSED') {
      return connect('connection-refused', `cannot connect to ${where}`, 'nothing listens there: start the server (`qtstatus serve`) or check the host and port in the URL');
    }
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'ETIMEDOUT') {
      return connect('unreachable', `cannot reach ${where}`, 'check the network and the address in the URL');
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const subject = conn?.peer ? ` ("${certificateInfo(conn.peer).subject}")` : '';
      const what = ctx.target.servername === undefined ? 'address' : 'host name';
      return new PingError('name-mismatch', ErrorCodes.TLS, `the ${what} ${ctx.target.host} is not among the server certificate's names`, {
        cause: `the certificate${subject} is for ${names(conn?.peer)}`,
        hint: `use one of those names in the URL, or give the server a certificate for ${ctx.target.host}: qtstatus certs server --host ${ctx.target.host}`,
      });
    }
    if (UNTRUSTED.has(code)) return untrusted(code, ctx, conn?.peer);
    if (NOT_TLS.has(code)) {
      return new PingError('not-tls', ErrorCodes.TLS, `${where} does not speak TLS`, {
        cause: sslReason(cause),
        hint: 'is it a plain-HTTP port? give the HTTPS port in the URL, e.g. 8443 for `qtstatus serve`',
      });
    }
  }

  // A TLS alert: during the handshake, or (TLS 1.3) right after it, where a
  // server that refuses our certificate says so.
  const alert = tlsAlert(cause) ?? tlsAlert(conn?.error);
  if (alert && CERT_ALERTS.has(alert.name)) {
    const { client, identity } = ctx.credentials;
    const hint = !client
      ? undefined
      : alert.name === 'certificate expired'
        ? `the server says ${client.certFile} has expired: check the clocks, or make a new one: qtstatus certs client ${identity}`
        : alert.name === 'certificate revoked'
          ? `the server has revoked ${client.certFile}: ask for a new one`
          : alert.name === 'handshake failure'
            ? `does the server trust "${client.info.issuer}", the CA that signed ${client.certFile}? less likely: no TLS version or cipher in common`
            : undefined;
    return certificateRefused(ctx, alertText(alert), hint);
  }
  if (alert || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new PingError('tls', ErrorCodes.TLS, `the TLS handshake with ${where} failed`, {
      cause: alert ? alertText(alert) : sslReason(cause),
      hint: 'check that the URL is the status server and that it accepts TLS 1.2 or 1.3',
    });
  }

  if (CLOSED.has(code) || /socket disconnected before secure TLS connection/.test(cause?.message ?? '')) {
    if (failure) {
      // Closed during the handshake: after the server had said something, the
      // one thing left to object to is our certificate.
      return conn !== undefined && conn.bytesReceived > 0
        ? certificateRefused(ctx, 'it closed the connection during the TLS handshake, without saying why')
        : connect('connection-closed', `${where} closed the connection before the TLS handshake`, 'is it a TLS server? it may also limit connections', null);
    }
    if (conn && conn.requests <= 1 && conn.protocol === 'TLSv1.3') {
      // TLS 1.3: the client's handshake ends before the server has checked
      // our certificate, so a refusal arrives as a close right after it.
      return certificateRefused(ctx, 'it closed the connection right after the TLS 1.3 handshake, before any answer');
    }
    return connect('connection-closed', `${where} closed the connection before answering`, 'the server may have restarted or be overloaded; try again');
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return connect('timeout', `no answer from ${where} within ${formatMs(ctx.timeoutMs)}`, 'the server is slow or stuck; --timeout waits longer', null);
  }
  return new PingError('other', ErrorCodes.CONNECT, `the request to ${ctx.target.url} failed`, { cause: err });
}

// qtstatus serve's codes for a refused certificate.
const CERT_CODES = new Set(['no_certificate', 'certificate_invalid', 'invalid_cn', 'multiple_cn']);

/**
 * qtstatus serve's code for an answer: its JSON says it; the old system's
 * nginx pages and Django's plain-text answers (labelled text/html) are
 * recognised by their words (issue #10), so both get the same diagnosis.
 */
function answerCode(r: PingResult): string | undefined {
  if (r.code !== undefined) return r.code;
  const text = r.message ?? '';
  if (r.status === 400 && /^CN must be a valid email address\b/i.test(text)) return 'invalid_cn';
  if (r.status === 400 && /No required SSL certificate/i.test(text)) return 'no_certificate';
  if (r.status === 400 && /SSL certificate/i.test(text)) return 'certificate_invalid';
  if (r.status === 403 && /^User unknown\b/i.test(text)) return 'user_unknown';
  return undefined;
}

function answerHint(r: PingResult, identity = 'EMAIL'): string | undefined {
  if (answerCode(r) === 'user_unknown') {
    return `${identity} is not registered there: run \`qtstatus users add ${identity}\` on the server, or start it with --auto-enroll`;
  }
  if (r.status === 429) return `the server limits requests per identity: try again ${r.retryAfter === undefined ? 'later' : `in ${r.retryAfter} s`}, or raise its --rate-limit`;
  if (r.status === 404 || r.status === 405) return "check the URL's path: `qtstatus serve` takes PATCH on /api/client";
  if (r.status >= 500) return "a problem on the server's side: see its log";
  if (r.status < 300) return 'is the URL the status API? it answers 204 to a recorded update';
  return undefined;
}

/** Why an answer is not the 204 of a recorded update; undefined when it is. */
export function answerFailure(r: PingResult, ctx: { credentials: Credentials }): PingError | undefined {
  if (r.ok) return undefined;
  const { client, identity } = ctx.credentials;
  const code = answerCode(r);
  if (code !== undefined && CERT_CODES.has(code)) {
    const hint = !client
      ? undefined
      : code === 'invalid_cn'
        ? `the server wants an email address as the certificate's CN; ${client.certFile} has "${identity}"`
        : code === 'multiple_cn'
          ? `the server wants one CN in the certificate's subject; ${client.certFile} has "${client.info.subject}"`
          : code === 'no_certificate'
            ? 'the server got no certificate from us: does a proxy between us end TLS?'
            : r.reason === 'CERT_HAS_EXPIRED'
              ? `the server thinks ${client.certFile} has expired: compare the clocks, or make a new one: qtstatus certs client ${identity}`
              : r.reason === 'INVALID_PURPOSE'
                ? `${client.certFile} is not for client authentication: use a client certificate (qtstatus certs client EMAIL)`
                : r.reason === 'CERT_REVOKED'
                  ? `${client.certFile} has been revoked by its CA: ask for a new one`
                  : undefined;
    return certificateRefused(ctx, `${r.status} ${r.statusText}${r.message ? `: ${r.message}` : ''}`, hint);
  }
  return new PingError('http-status', ErrorCodes.HTTP_STATUS, `the server answered ${r.status} ${r.statusText}`, {
    cause: r.message,
    hint: answerHint(r, identity),
  });
}
