// Who is calling: the CN of a CA-verified client certificate (issues #4, #10).
// One function derives the identity from a certificate, for direct TLS and
// behind nginx alike (issue #10, defect 1): the subject is read from the
// certificate's own structure, never from DN text, where an escaped comma
// can forge a second CN.
// Derived once per TLS connection: reading the peer certificate costs more
// than the rest of a request (issue #4 measured a fivefold loss); what must
// be checked on every request (the validity window, revocation) is kept as
// plain numbers beside it (./connections.ts, ./app.ts).

import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { normalSerial } from '../pki/crl.ts';
import { isValidEmail } from '../protocol/email.ts';

export interface Verified {
  ok: true;
  email: string;
  /** Upper-case hex, as in a CRL (../pki/crl.ts). */
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
}
export interface Refused {
  ok: false;
  code: string;
  message: string;
  reason?: string;
}
export type Identity = Verified | Refused;

export const NO_CERTIFICATE: Refused = {
  ok: false,
  code: 'no_certificate',
  message: 'No required SSL certificate was sent',
};

const INVALID_CN: Refused = { ok: false, code: 'invalid_cn', message: 'CN must be a valid email address' };
const SEVERAL_CNS: Refused = { ok: false, code: 'multiple_cn', message: 'certificate subject has more than one CN' };

// OpenSSL's verification results (X509_V_ERR_*) as Node names them, and the
// two that Node reports as UNSPECIFIED (see weakness()).
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
  INVALID_CA: 'the issuing certificate is not a CA',
  UNABLE_TO_GET_CRL: 'no CRL for the certificate issuer',
  CRL_HAS_EXPIRED: 'the CRL has expired',
  CRL_NOT_YET_VALID: 'the CRL is not yet valid',
  EE_KEY_TOO_SMALL: 'certificate key too weak',
  CA_MD_TOO_WEAK: 'certificate signature algorithm too weak',
};

/** A refused certificate: 400 `certificate_invalid`, with OpenSSL's reason code. */
export function invalidCertificate(reason: string, detail?: string): Refused {
  const text = VERIFY_TEXT[reason] ?? reason.toLowerCase().replace(/_/g, ' ');
  return {
    ok: false,
    code: 'certificate_invalid',
    reason,
    // nginx's wording, which the old system's clients know.
    message: `The SSL certificate error: ${text}${detail ? `: ${detail}` : ''} (${reason})`,
  };
}

/** The reason code OpenSSL gave for rejecting the peer's certificate. */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | string | null | undefined;
  if (typeof e === 'string') return e;
  if (e && typeof e.code === 'string') return e.code;
  if (e && typeof e.message === 'string') return e.message;
  return 'UNKNOWN';
}

/**
 * Node names only some of OpenSSL's verify errors and reports the rest as
 * UNSPECIFIED; the common ones among the rest are a key or signature hash
 * below OpenSSL's security level 2 (RSA under 2048 bits, SHA-1, MD5).
 */
function weakness(cert: X509Certificate): Refused | undefined {
  const key = cert.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && bits !== undefined && bits < 2048) {
    return invalidCertificate('EE_KEY_TOO_SMALL', `RSA ${bits} bits, at least 2048 needed`);
  }
  const sig = cert.signatureAlgorithm ?? '';
  if (/(sha-?1|md[245])(?!\d)/i.test(sig)) {
    return invalidCertificate('CA_MD_TOO_WEAK', `${sig}, SHA-256 or better needed`);
  }
  return undefined;
}

/**
 * The identity a CN names, if the CN is one valid email address. `cert`
 * gives the serial and validity window; without one (the old proxy header,
 * ./proxy.ts) there is nothing to check per request.
 */
export function identityFromCn(cn: unknown, cert?: X509Certificate): Identity {
  if (Array.isArray(cn)) return SEVERAL_CNS;
  // 254 bytes: the most a status packet can carry (docs/protocol.md).
  if (typeof cn !== 'string' || !isValidEmail(cn) || Buffer.byteLength(cn) > 254) return INVALID_CN;
  if (!cert) return { ok: true, email: cn, serial: '', notBeforeMs: -Infinity, notAfterMs: Infinity };
  return {
    ok: true,
    email: cn,
    serial: normalSerial(cert.serialNumber),
    notBeforeMs: cert.validFromDate.getTime(),
    notAfterMs: cert.validToDate.getTime(),
  };
}

/** The identity in a certificate that its CA has vouched for. */
export function identityFromCertificate(cert: X509Certificate): Identity {
  // The subject as OpenSSL parsed it: one key per attribute type, an array
  // for a repeated one (a second RDN or a multi-valued `+` RDN alike).
  return identityFromCn(cert.toLegacyObject().subject?.CN, cert);
}

/** The identity of a refused certificate: why OpenSSL refused it. */
export function refusedCertificate(reason: string, cert: X509Certificate): Refused {
  return (reason === 'UNSPECIFIED' && weakness(cert)) || invalidCertificate(reason);
}

export function identifyTlsPeer(socket: TLSSocket): Identity {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return NO_CERTIFICATE;
  if (!socket.authorized) return refusedCertificate(reasonOf(socket.authorizationError), cert);
  return identityFromCertificate(cert);
}

/**
 * Checked on every request (issue #10, defect 5): a certificate that expired
 * while its connection stayed open stops working then, not at the next
 * handshake.
 */
export function stillValid(id: Verified, nowMs: number): Refused | undefined {
  if (nowMs > id.notAfterMs) return invalidCertificate('CERT_HAS_EXPIRED');
  if (nowMs < id.notBeforeMs) return invalidCertificate('CERT_NOT_YET_VALID');
  return undefined;
}
