// One PATCH /api/client with its timings (like curl -w: connect, TLS, first
// byte, total), through undici's dispatcher API: no response stream, the body
// (a server's explanation, at most 16 KiB kept) is gathered as it comes.

import type { Dispatcher } from 'undici';
import { STATUS_CODES } from 'node:http';
import type { PingClient } from './agent.ts';
import { claimConnection, type ConnectionInfo } from './connect.ts';
import { diagnose, type PingError } from './diagnose.ts';

const MAX_BODY = 16 * 1024;

/** Milliseconds from the start of the request, as curl's -w reports them. */
export interface PingTimings {
  /** Name resolved (absent for an IP address or a reused connection). */
  dns?: number;
  /** TCP connected (absent for a reused connection). */
  connect?: number;
  /** TLS handshake done (absent for a reused connection). */
  tls?: number;
  firstByte: number;
  total: number;
}

export interface PingResult {
  status: number;
  statusText: string;
  /** 204, what the status API answers to a recorded update. */
  ok: boolean;
  /** The server's explanation (JSON message, HTML title or first line of text). */
  message?: string;
  /** The server's error code, e.g. user_unknown (qtstatus serve's JSON). */
  code?: string;
  /** Why a certificate was refused, e.g. CERT_HAS_EXPIRED (qtstatus serve's JSON). */
  reason?: string;
  /** Seconds, from Retry-After. */
  retryAfter?: number;
  connection: {
    id: number;
    remoteAddress?: string;
    remotePort?: number;
    localPort?: number;
    protocol?: string;
    cipher?: string;
    /** This request went over a connection opened earlier. */
    reused: boolean;
    /** The connection's handshake resumed a TLS session. */
    sessionResumed: boolean;
  };
  timings: PingTimings;
}

const MAX_MESSAGE = 300;

/**
 * The server's explanation from a body, whatever its type: one line of at
 * most 300 characters, as the server wrote it. It is text from the network:
 * whoever shows it escapes it (src/cli/escape.ts; issue #10).
 */
export function serverMessage(contentType: string, body: string): { message?: string; code?: string; reason?: string } {
  const explained = explain(contentType, body.trim());
  for (const [k, v] of Object.entries(explained)) {
    const line = [...v.replace(/\s+/g, ' ').trim()]; // by code point: no half surrogate pair
    explained[k as keyof typeof explained] = line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE).join('')}…` : line.join('');
  }
  return explained;
}

function explain(contentType: string, text: string): { message?: string; code?: string; reason?: string } {
  if (text === '') return {};
  if (/json/i.test(contentType)) {
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const out = { message: str(j.message) ?? str(j.detail) ?? str(j.error), code: str(j.code), reason: str(j.reason) };
      return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
    } catch {
      // not JSON after all: fall through to text
    }
  }
  // Django's HttpResponse('User unknown') is labelled text/html but is plain
  // text (issue #10): only markup is read as HTML.
  if (/^<(!doctype|html|head|body|title|h1)\b/i.test(text) || (/html/i.test(contentType) && /<\/?[a-z][^>]*>/i.test(text))) {
    // nginx: <title>400 No required SSL certificate was sent</title>
    const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1] ?? /<h1>([^<]*)<\/h1>/i.exec(text)?.[1];
    return title ? { message: title.trim().replace(/^\d{3}\s+/, '') } : {};
  }
  return { message: text.split('\n', 1)[0] };
}

function since(start: number, t: number | undefined): number | undefined {
  return t === undefined ? undefined : Math.max(0, t - start);
}

type Outcome = { result: PingResult } | { error: PingError; stale: boolean };

function attempt(client: PingClient): Promise<Outcome> {
  const { origin, path } = client.target;
  return new Promise((resolve) => {
    const started = performance.now();
    let conn: ConnectionInfo | undefined;
    let status = 0;
    let statusText = '';
    let contentType = '';
    let retryAfter: string | undefined;
    let firstByte = 0;
    const chunks: Buffer[] = [];
    let size = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => claimConnection((c) => (conn = c)),
      onResponseStart: (_c, statusCode, headers, statusMessage) => {
        firstByte = performance.now();
        status = statusCode;
        statusText = statusMessage || STATUS_CODES[statusCode] || '';
        contentType = String(headers['content-type'] ?? '');
        const ra = headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      },
      onResponseData: (_c, chunk) => {
        if (size < MAX_BODY) {
          chunks.push(chunk);
          size += chunk.length;
        }
      },
      onResponseEnd: () => {
        const total = performance.now();
        const c = conn;
        const fresh = c !== undefined && c.requests === 1;
        const explained = status === 204 ? {} : serverMessage(contentType, Buffer.concat(chunks).toString('utf8', 0, MAX_BODY));
        const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
        const timings: PingTimings = { firstByte: firstByte - started, total: total - started };
        if (fresh) {
          if (c.lookupAt !== undefined) timings.dns = since(started, c.lookupAt);
          timings.connect = since(started, c.connectedAt);
          timings.tls = since(started, c.secureAt);
        }
        const result: PingResult = {
          status,
          statusText,
          ok: status === 204,
          ...explained,
          ...(seconds === undefined ? {} : { retryAfter: seconds }),
          connection: {
            id: c?.id ?? 0,
            remoteAddress: c?.remoteAddress,
            remotePort: c?.remotePort,
            localPort: c?.localPort,
            protocol: c?.protocol,
            cipher: c?.cipher,
            reused: !fresh,
            sessionResumed: c?.sessionReused ?? false,
          },
          timings,
        };
        resolve({ result });
      },
      onResponseError: (_c, err) => {
        const error = diagnose(err, { target: client.target, credentials: client.credentials, timeoutMs: client.timeoutMs, connection: conn });
        // Closed before answering on a connection that had served others:
        // the server let it go while it was idle, not a real failure.
        const stale = status === 0 && conn !== undefined && conn.requests > 1 && error.kind === 'connection-closed';
        resolve({ error, stale });
      },
    };
    client.agent.dispatch({ origin, path, method: 'PATCH', headers: client.headers, reset: client.newConnection }, handler);
  });
}

/**
 * PATCH the status URL once. Resolves with any HTTP answer (check `ok`);
 * rejects with a PingError when there is none. A connection the server
 * closed while idle is retried once on a new one, as browsers do.
 */
export async function ping(client: PingClient): Promise<PingResult> {
  let outcome = await attempt(client);
  if ('error' in outcome && outcome.stale) outcome = await attempt(client);
  if ('error' in outcome) throw outcome.error;
  return outcome.result;
}
