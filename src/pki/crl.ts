// Certificate revocation lists (RFC 5280 §5). Reading: which serials the CA
// has revoked, why and when, and until when the list is current. `serve`
// uses it to close the open connections of revoked certificates and to name
// the revocation reason (issue #10, defect 5), OpenSSL having refused the
// new handshakes already. Its signature is checked against the CA: a list
// nobody signed revokes nothing. Writing (issue #12): the v2 CRL that
// `certs revoke` and `certs crl` sign with the CA key, with the two
// extensions RFC 5280 §5.2 asks of a conforming CA (authority key identifier
// and CRL number). The writer loads node-forge on first use; the server,
// which only reads, never does.

import { createPublicKey, sign, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { ErrorCodes, QtError } from '../errors.ts';
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

export type RevocationReason = Exclude<(typeof REVOCATION_REASONS)[number], undefined>;

/**
 * Reasons a CA may give when it revokes: removeFromCRL (8) only appears in
 * delta CRLs (RFC 5280 §5.3.1), which qtstatus does not make.
 */
export const REVOKE_REASONS = REVOCATION_REASONS.filter((r): r is Exclude<RevocationReason, 'removeFromCRL'> => r !== undefined && r !== 'removeFromCRL');

/** "keyCompromise", "key-compromise", "KEY_COMPROMISE" or "1" → the RFC 5280 name, or undefined. */
export function parseRevocationReason(value: string): (typeof REVOKE_REASONS)[number] | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const name = REVOCATION_REASONS[Number(text)];
    return REVOKE_REASONS.find((r) => r === name);
  }
  const plain = text.replace(/[-_\s]/g, '').toLowerCase();
  return REVOKE_REASONS.find((r) => r.toLowerCase() === plain);
}

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
  /** The cRLNumber extension (RFC 5280 §5.2.3), when present. */
  number?: bigint;
  /** The authorityKeyIdentifier's key id as lower-case hex (§5.2.1), when present. */
  authorityKeyId?: string;
}

const CRL_REASON_OID = '2.5.29.21';
const CRL_NUMBER_OID = '2.5.29.20';
const AUTHORITY_KEY_ID_OID = '2.5.29.35';

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

/** The CRL number and authority key id of the crlExtensions [0] (RFC 5280 §5.2). */
function crlExtensions(container: DerNode | undefined): Pick<RevocationList, 'number' | 'authorityKeyId'> {
  const out: Pick<RevocationList, 'number' | 'authorityKeyId'> = {};
  const list = container && derChildren(container)[0];
  if (!list) return out;
  for (const ext of derChildren(list)) {
    const parts = derChildren(ext);
    const oid = parts[0] && derOid(parts[0].content);
    const value = parts[parts.length - 1];
    if (!value || value.tag !== Tag.OCTET_STRING) continue;
    if (oid === CRL_NUMBER_OID) {
      const n = readDer(value.content);
      if (n.tag === Tag.INTEGER) out.number = BigInt(`0x${n.content.toString('hex') || '0'}`);
    } else if (oid === AUTHORITY_KEY_ID_OID) {
      const id = derChildren(readDer(value.content)).find((c) => c.tag === 0x80);
      if (id) out.authorityKeyId = id.content.toString('hex');
    }
  }
  return out;
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
    const extensions = crlExtensions(fields.slice(i).find((f) => f.tag === 0xa0));
    list = { issuerDer: issuer.bytes, thisUpdateMs: derTime(thisUpdate), nextUpdateMs, revoked, ...extensions };
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

// ---- writing ----

export interface CrlEntry {
  /** Hexadecimal, as normalSerial gives it (leading zeros and case do not matter). */
  serial: string;
  revokedAt: Date;
  /** Absent, or "unspecified", leaves out the reason code (RFC 5280 §5.3.1). */
  reason?: RevocationReason;
}

export interface CrlInput {
  /** The CA: its certificate (issuer name, key id) and its private key. */
  issuer: { certificate: X509Certificate; privateKey: KeyObject };
  entries: CrlEntry[];
  /** Monotonically increasing for this CA (RFC 5280 §5.2.3). */
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}

export interface MadeCrl {
  pem: string;
  der: Buffer;
  /** What readCrl reads back from it, signature checked. */
  list: RevocationList;
}

/** A non-negative integer as DER INTEGER content: big-endian, a leading zero when the top bit is set. */
function unsignedBytes(hex: string): Buffer {
  const even = hex.length % 2 ? `0${hex}` : hex;
  const bytes = Buffer.from(even, 'hex');
  return (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/** A v2 CRL signed by the CA, PEM ("BEGIN X509 CRL") and DER. */
export async function makeCrl(input: CrlInput): Promise<MadeCrl> {
  const [{ asn1FromBuffer, asn1ToBuffer, loadForge }, issue, parse] = await Promise.all([import('./forge.ts'), import('./issue.ts'), import('./parse.ts')]);
  const forge = await loadForge();
  const { asn1 } = forge;
  const U = asn1.Class.UNIVERSAL;
  const T = asn1.Type;
  const seq = (items: ReturnType<typeof asn1.create>[]) => asn1.create(U, T.SEQUENCE, true, items);
  const integer = (bytes: Buffer) => asn1.create(U, T.INTEGER, false, bytes.toString('binary'));
  const extension = (oid: string, value: ReturnType<typeof asn1.create>) =>
    seq([asn1.create(U, T.OID, false, asn1.oidToDer(oid).getBytes()), asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes())]);

  const ca = input.issuer.certificate;
  const parts = parse.certificateParts(ca);
  const keyId = parse.readExtensions(parts).subjectKeyId ?? parse.keyIdentifier(parts.spkiDer).toString('hex');
  if (input.number < 0n) throw new QtError(ErrorCodes.INTERNAL, 'makeCrl: a negative CRL number');
  const alg = issue.signatureAlgorithm(input.issuer.privateKey);

  const entries = input.entries.map((e) => {
    const serial = normalSerial(e.serial);
    if (!/^[0-9A-F]+$/.test(serial)) throw new QtError(ErrorCodes.INTERNAL, `makeCrl: "${e.serial}" is not a hexadecimal serial number`);
    const code = e.reason && e.reason !== 'unspecified' ? REVOCATION_REASONS.indexOf(e.reason) : -1;
    return seq([
      integer(unsignedBytes(serial)),
      issue.asn1Time(forge, e.revokedAt),
      // §5.3.1: the reason code "unspecified" SHOULD be left out altogether.
      ...(code > 0 ? [seq([extension(CRL_REASON_OID, asn1.create(U, T.ENUMERATED, false, String.fromCharCode(code)))])] : []),
    ]);
  });
  const tbs = seq([
    integer(Buffer.from([1])), // v2: needed for extensions (§5.1.2.1)
    issue.algorithmIdentifier(forge, alg),
    asn1FromBuffer(forge, parts.subjectDer), // the issuer name byte for byte (§5.1.2.3)
    issue.asn1Time(forge, input.thisUpdate),
    issue.asn1Time(forge, input.nextUpdate), // §5.1.2.5: conforming CAs MUST include it
    // §5.1.2.6: with nothing revoked the list is absent, not empty.
    ...(entries.length > 0 ? [seq(entries)] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      seq([
        extension(AUTHORITY_KEY_ID_OID, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, Buffer.from(keyId, 'hex').toString('binary'))])),
        extension(CRL_NUMBER_OID, integer(unsignedBytes(input.number.toString(16)))),
      ]),
    ]),
  ]);
  const tbsDer = asn1ToBuffer(forge, tbs);
  const signature = sign('sha256', tbsDer, input.issuer.privateKey);
  const der = asn1ToBuffer(
    forge,
    seq([tbs, issue.algorithmIdentifier(forge, alg), asn1.create(U, T.BITSTRING, false, '\x00' + signature.toString('binary'))]),
  );
  let list: RevocationList;
  try {
    list = readCrl(der, ca);
  } catch (err) {
    throw new QtError(ErrorCodes.INTERNAL, 'the new CRL does not verify with the CA certificate', { cause: err, hint: 'this is a bug: please report it with the command you ran' });
  }
  const pem = `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END X509 CRL-----\n`;
  return { pem, der, list };
}
