// Turns what undici, TLS and the system report into what happened and what to
// do, in plain words: one PingError with a stable kind (for summaries and
// JSON), a QtError code (for exit codes), the message, the cause and a hint.

import type { X509Certificate } from 'node:crypto';
import { ErrorCodes, QtError, type ErrorCode, type QtErrorOptions } from '../errors.ts';
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

  constructor(kind: FailureKind, code: ErrorCode, message: string, options: QtErrorOptions = {}) {
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

/**
 * Why the server refused our certificate, finer than its kind: `why` says
 * what it said (src/cli/hints.ts has the advice that names commands), `hint`
 * plain advice for the refusals that need no command.
 */
export interface Refusal {
  why?: 'expired_alert' | 'revoked' | 'handshake_failure' | 'invalid_cn' | 'multiple_cn' | 'no_certificate' | 'expired_answer' | 'invalid_purpose';
  hint?: string;
}

/** "the server refused our client certificate", with why and what to do. */
export function certificateRefused(ctx: { credentials: Credentials }, cause: string, refusal: Refusal = {}): PingError {
  const { client, identity } = ctx.credentials;
  if (!client) {
    return new PingError('certificate-refused', ErrorCodes.CERT_REFUSED, 'the server wants a client certificate', {
      cause,
      reason: 'no_client_cert',
      setting: 'cert',
    });
  }
  return new PingError('certificate-refused', ErrorCodes.CERT_REFUSED, 'the server refused our client certificate', {
    cause,
    reason: 'cert_refused',
    setting: 'cert',
    path: client.certFile,
    facts: { why: refusal.why, identity, certFile: client.certFile, issuer: client.info.issuer },
    hint: refusal.hint,
  });
}

function untrusted(code: string, ctx: FailureContext, peer: X509Certificate | undefined): PingError {
  const info = peer ? certificateInfo(peer) : undefined;
  const caFile = ctx.credentials.caFile ?? 'the CA file';
  const ours = ctx.credentials.caInfo.map((c) => `"${c.subject}"`).join(', ') || 'no certificate';
  const tls = (message: string, cause: string, why: QtErrorOptions) =>
    new PingError('server-untrusted', ErrorCodes.TLS, message, { cause: `${cause} (${code})`, setting: 'ca', path: ctx.credentials.caFile, ...why });
  if (code === 'CERT_HAS_EXPIRED' && info) {
    return tls(`the server's certificate expired on ${when(info.notAfter)}`, `"${info.subject}"`, { reason: 'server_cert_expired' });
  }
  if (code === 'CERT_NOT_YET_VALID' && info) {
    return tls(`the server's certificate is not valid until ${when(info.notBefore)}`, `"${info.subject}"`, { reason: 'server_cert_not_yet_valid', hint: 'check the clocks of this computer and of the server' });
  }
  const issuer = info ? (info.selfSigned ? `it is self-signed ("${info.subject}")` : `its issuer is "${info.issuer}"`) : 'its issuer is unknown';
  return tls(
    `the server's certificate is not signed by the CA in ${caFile}`,
    `${issuer}; ${caFile} holds ${ours}`,
    { reason: 'server_untrusted' },
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
  // `why`: a reason whose advice names options or commands (src/cli/hints.ts), or plain advice.
  const connect = (kind: FailureKind, message: string, why: string | { reason: string; setting?: string }, withCause: unknown = cause) =>
    new PingError(kind, ErrorCodes.CONNECT, message, { cause: withCause, value: where, ...(typeof why === 'string' ? { hint: why } : why) });

  if (failure) {
    if (code === CONNECT_TIMEOUT) {
      return conn?.connectedAt === undefined
        ? connect('timeout', `no connection to ${where} within ${formatMs(ctx.timeoutMs)}`, { reason: 'connect_timeout', setting: 'timeout' }, null)
        : connect('timeout', `the TLS handshake with ${where} did not finish within ${formatMs(ctx.timeoutMs)}`, { reason: 'handshake_timeout', setting: 'timeout' }, null);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_FAIL' || code === 'EAI_NODATA') {
      return connect('dns', `cannot resolve the host name ${ctx.target.host}`, "check the host name in the URL");
    }
    if (code === 'EAI_AGAIN') {
      return connect('dns', `cannot resolve the host name ${ctx.target.host}`, 'the name server did not answer; check the network and try again');
    }
    if (code === 'ECONNREFUSED') {
      return connect('connection-refused', `cannot connect to ${where}`, { reason: 'connection_refused' });
    }
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'ETIMEDOUT') {
      return connect('unreachable', `cannot reach ${where}`, 'check the network and the address in the URL');
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const subject = conn?.peer ? ` ("${certificateInfo(conn.peer).subject}")` : '';
      const what = ctx.target.servername === undefined ? 'address' : 'host name';
      return new PingError('name-mismatch', ErrorCodes.TLS, `the ${what} ${ctx.target.host} is not among the server certificate's names`, {
        cause: `the certificate${subject} is for ${names(conn?.peer)}`,
        reason: 'name_mismatch',
        value: ctx.target.host,
      });
    }
    if (UNTRUSTED.has(code)) return untrusted(code, ctx, conn?.peer);
    if (NOT_TLS.has(code)) {
      return new PingError('not-tls', ErrorCodes.TLS, `${where} does not speak TLS`, {
        cause: sslReason(cause),
        reason: 'not_tls',
        value: where,
      });
    }
  }

  // A TLS alert: during the handshake, or (TLS 1.3) right after it, where a
  // server that refuses our certificate says so.
  const alert = tlsAlert(cause) ?? tlsAlert(conn?.error);
  if (alert && CERT_ALERTS.has(alert.name)) {
    const { client } = ctx.credentials;
    const refusal: Refusal = !client
      ? {}
      : alert.name === 'certificate expired'
        ? { why: 'expired_alert' }
        : alert.name === 'certificate revoked'
          ? { why: 'revoked', hint: `the server has revoked ${client.certFile}: ask for a new one` }
          : alert.name === 'handshake failure'
            ? { why: 'handshake_failure', hint: `does the server trust "${client.info.issuer}", the CA that signed ${client.certFile}? less likely: no TLS version or cipher in common` }
            : {};
    return certificateRefused(ctx, alertText(alert), refusal);
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
    return connect('timeout', `no answer from ${where} within ${formatMs(ctx.timeoutMs)}`, { reason: 'answer_timeout', setting: 'timeout' }, null);
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

/** What an answer means: a reason whose advice names commands (src/cli/hints.ts), or plain advice. */
function answerWhy(r: PingResult, identity = 'EMAIL'): QtErrorOptions {
  if (answerCode(r) === 'user_unknown') return { reason: 'user_unknown', facts: { identity } };
  if (r.status === 429) return { reason: 'rate_limited', facts: { retryAfter: r.retryAfter } };
  if (r.status === 404 || r.status === 405) return { reason: 'wrong_path' };
  if (r.status >= 500) return { reason: 'server_error', hint: "a problem on the server's side: see its log" };
  if (r.status < 300) return { reason: 'not_status_api', hint: 'is the URL the status API? it answers 204 to a recorded update' };
  return {};
}

/** Why an answer is not the 204 of a recorded update; undefined when it is. */
export function answerFailure(r: PingResult, ctx: { credentials: Credentials }): PingError | undefined {
  if (r.ok) return undefined;
  const { client, identity } = ctx.credentials;
  const code = answerCode(r);
  if (code !== undefined && CERT_CODES.has(code)) {
    const refusal: Refusal = !client
      ? {}
      : code === 'invalid_cn'
        ? { why: 'invalid_cn', hint: `the server wants an email address as the certificate's CN; ${client.certFile} has "${identity}"` }
        : code === 'multiple_cn'
          ? { why: 'multiple_cn', hint: `the server wants one CN in the certificate's subject; ${client.certFile} has "${client.info.subject}"` }
          : code === 'no_certificate'
            ? { why: 'no_certificate', hint: 'the server got no certificate from us: does a proxy between us end TLS?' }
            : r.reason === 'CERT_HAS_EXPIRED'
              ? { why: 'expired_answer' }
              : r.reason === 'INVALID_PURPOSE'
                ? { why: 'invalid_purpose' }
                : r.reason === 'CERT_REVOKED'
                  ? { why: 'revoked', hint: `${client.certFile} has been revoked by its CA: ask for a new one` }
                  : {};
    return certificateRefused(ctx, `${r.status} ${r.statusText}${r.message ? `: ${r.message}` : ''}`, refusal);
  }
  return new PingError('http-status', ErrorCodes.HTTP_STATUS, `the server answered ${r.status} ${r.statusText}`, {
    cause: r.message,
    value: r.status,
    ...answerWhy(r, identity),
  });
}
