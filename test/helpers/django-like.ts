// The old system on 127.0.0.1, as `qtstatus ping` meets it: nginx (TLS 1.2,
// client certificates required from the CA) in front of the Django view,
// which answers in plain text that Django labels text/html (HttpResponse's
// default content type): 400 "CN must be a valid email address", 403 "User
// unknown", 204 for a registered user (issue #10).
import type { TLSSocket } from 'node:tls';
import { isValidEmail } from '../../src/protocol/email.ts';
import { pem, startHttps, type TestHttps } from './ping-servers.ts';

/** The headers Django 5 (SecurityMiddleware, XFrameOptionsMiddleware) and nginx add to an HttpResponse. */
function djangoHeaders(body: string): Record<string, string> {
  return {
    server: 'nginx/1.25.5',
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
  };
}

export interface DjangoLikeOptions {
  cert: string;
  key: string;
  /** The CA whose clients nginx lets through. */
  ca: string;
  /** Registered users (the Django User table). */
  users: string[];
  /** Answer every request with this status and body instead (e.g. a 500 page). */
  fixed?: { status: number; body: string };
}

export function startDjangoLike(o: DjangoLikeOptions): Promise<TestHttps> {
  const tls = { cert: pem(o.cert), key: pem(o.key), ca: pem(o.ca), requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' as const };
  return startHttps(tls, (req, res) => {
    req.resume();
    req.on('end', () => {
      // nginx passes the CN as X-Subject-CN; the middleware checks it.
      const cn = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      const [status, body] = o.fixed
        ? [o.fixed.status, o.fixed.body]
        : !isValidEmail(cn)
          ? [400, 'CN must be a valid email address']
          : !o.users.includes(cn)
            ? [403, 'User unknown']
            : [204, ''];
      if (status === 204) res.writeHead(204, { server: 'nginx/1.25.5', 'x-frame-options': 'DENY' }).end();
      else res.writeHead(status, djangoHeaders(body)).end(body);
    });
  });
}
