// Reading a certificate revocation list (RFC 5280 §5): which serials the CA
// has revoked, why and when, and until when the list is current. `serve`
// uses it to close the open connections of revoked certificates and to name
// the revocation reason (issue #10, defect 5), OpenSSL having refused the
// new handshakes already. Its signature is checked against the CA: a list
// nobody signed revokes nothing.

import { createPublicKey, verify, type X509Certificate } from 'node:crypto';
import { derChildren, derOid, readDer, Tag, type DerNode } from './der.ts';

/** RFC 5280 §5.3.1 CRLReason, by code. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  undefined, // 7 is not used
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

export interface RevokedEntry {
  revokedAtMs: number;
  /** RFC 5280 reason name; absent when the entry has no reason code. */
  reason?: string;
}

export interface RevocationList {
  /** Raw issuer Name, to compare with a certificate's issuer. */
  issuerDer: Buffer;
  thisUpdateMs: number;
  nextUpdateMs?: number;
  /** Revoked serial numbers as upper-case hex without leading zeros. */
  revoked: Map<string, RevokedEntry>;
}

const CRL_REASON_OID = '2.5.29.21';

// Signature algorithms a CA here signs with (RFC 4055, RFC 5758).
const HASH_BY_OID: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

export class CrlError extends Error {
  override readonly name = 'CrlError';
}

/** Serial number text as Node's X509Certificate gives it, made comparable. */
export function normalSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

function derTime(node: DerNode): number {
  const text = node.content.toString('latin1');
  const m =
    node.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : node.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) throw new CrlError('a time is neither UTCTime nor GeneralizedTime');
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** The DER of the first CRL in `data`, PEM or DER. */
function crlDer(data: Buffer): Buffer {
  const text = data.toString('latin1');
  const pem = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/.exec(text);
  if (pem) return Buffer.from(pem[1] as string, 'base64');
  if (data[0] === Tag.SEQUENCE) return data;
  throw new CrlError('no "BEGIN X509 CRL" block and not DER');
}

function entryReason(extensions: DerNode | undefined): string | undefined {
  if (!extensions) return undefined;
  for (const ext of derChildren(extensions)) {
    const [oid, ...rest] = derChildren(ext);
    if (!oid || derOid(oid.content) !== CRL_REASON_OID) continue;
    const value = rest[rest.length - 1];
    if (!value) return undefined;
    const code = readDer(value.content).content[0] ?? 0;
    return REVOCATION_REASONS[code] ?? `reason ${code}`;
  }
  return undefined;
}

/** Parses a CRL (PEM or DER); with `ca`, also checks it is that CA's and signed by it. */
export function readCrl(data: Buffer, ca?: X509Certificate): RevocationList {
  let list: RevocationList;
  let tbs: DerNode;
  let sigAlg: string;
  let signature: Buffer;
  try {
    const outer = derChildren(readDer(crlDer(data)));
    const [tbsNode, alg, sig] = outer;
    if (!tbsNode || !alg || !sig || sig.tag !== Tag.BIT_STRING) throw new CrlError('not a CertificateList');
    tbs = tbsNode;
    sigAlg = derOid(derChildren(alg)[0]?.content ?? Buffer.alloc(0));
    signature = sig.content.subarray(1);
    const fields = derChildren(tbs);
    let i = fields[0]?.tag === Tag.INTEGER ? 1 : 0; // version is optional (v1)
    i++; // signature AlgorithmIdentifier
    const issuer = fields[i++];
    const thisUpdate = fields[i++];
    if (!issuer || !thisUpdate) throw new CrlError('no issuer or thisUpdate');
    let next = fields[i];
    let nextUpdateMs: number | undefined;
    if (next && (next.tag === 0x17 || next.tag === 0x18)) {
      nextUpdateMs = derTime(next);
      next = fields[++i];
    }
    const revoked = new Map<string, RevokedEntry>();
    if (next && next.tag === Tag.SEQUENCE) {
      for (const entry of derChildren(next)) {
        const [serial, date, extensions] = derChildren(entry);
        if (!serial || serial.tag !== Tag.INTEGER || !date) throw new CrlError('a revoked entry has no serial or date');
        const reason = entryReason(extensions);
        revoked.set(normalSerial(serial.content.toString('hex')), { revokedAtMs: derTime(date), ...(reason ? { reason } : {}) });
      }
    }
    list = { issuerDer: issuer.bytes, thisUpdateMs: derTime(thisUpdate), nextUpdateMs, revoked };
  } catch (err) {
    if (err instanceof CrlError) throw err;
    throw new CrlError((err as Error).message);
  }
  if (ca) {
    const hash = HASH_BY_OID[sigAlg];
    if (!hash) throw new CrlError(`unsupported signature algorithm ${sigAlg}`);
    if (!verify(hash, tbs.bytes, createPublicKey(ca.publicKey.export({ type: 'spki', format: 'pem' })), signature)) {
      throw new CrlError('its signature does not verify with the CA certificate');
    }
  }
  return list;
}
