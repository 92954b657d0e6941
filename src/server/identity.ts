// Who is calling: the CN of a CA-verified client certificate (issue #4).
// Derived once per TLS connection: reading the peer certificate costs more
// than the rest of a request (issue #4 measured a fivefold loss).

import type { TLSSocket } from 'node:tls';
import { isValidEmail } from '../protocol/email.ts';

export type Identity = { ok: true; email: string } | { ok: false; code: string; message: string; reason?: string };

export const NO_CERTIFICATE: Identity = {
  ok: false,
  code: 'no_certificate',
  message: 'No required SSL certificate was sent',
};

const INVALID_CN: Identity = { ok: false, code: 'invalid_cn', message: 'CN must be a valid email address' };
const SEVERAL_CNS: Identity = { ok: false, code: 'multiple_cn', message: 'certificate subject has more than one CN' };

// OpenSSL's verification results (X509_V_ERR_*) as Node names them.
const VERIFY_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate has been revoked',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in an untrusted self-signed CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed',
  INVALID_PURPOSE: 'certificate is not for client authentication (key usage)',
  UNABLE_TO_GET_CRL: 'no CRL for the certificate issuer',
  CRL_HAS_EXPIRED: 'the CRL has expired',
  CRL_NOT_YET_VALID: 'the CRL is not yet valid',
};

/** The reason code OpenSSL gave for rejecting the peer's certificate. */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | string | null | undefined;
  if (typeof e === 'string') return e;
  if (e && typeof e.code === 'string') return e.code;
  if (e && typeof e.message === 'string') return e.message;
  return 'UNKNOWN';
}

/** Identity from the CN of a parsed subject (never from the DN string). */
export function identityFromCn(cn: unknown): Identity {
  if (Array.isArray(cn)) return SEVERAL_CNS;
  // 254 bytes: the most a status packet can carry (docs/protocol.md).
  if (typeof cn !== 'string' || !isValidEmail(cn) || Buffer.byteLength(cn) > 254) return INVALID_CN;
  return { ok: true, email: cn };
}

export function identifyTlsPeer(socket: TLSSocket): Identity {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return NO_CERTIFICATE;
  if (!socket.authorized) {
    const reason = reasonOf(socket.authorizationError);
    return {
      ok: false,
      code: 'certificate_invalid',
      reason,
      message: `The SSL certificate error: ${VERIFY_TEXT[reason] ?? reason.toLowerCase().replace(/_/g, ' ')} (${reason})`,
    };
  }
  return identityFromCn(cert.subject?.CN);
}
