// What a certificate says, as plain data: for `qtstatus certs inspect`, and
// for the server and client, which need names and the validity window.

import type { X509Certificate } from 'node:crypto';
import { describeKey, type KeyDescription } from './keys.ts';
import { certificateParts, readExtensions, readName, type AltNames, type KeyUsage } from './parse.ts';

export interface CertificateInfo {
  /** "CN=localhost" or "O=qtstatus, CN=qtstatus CA 5b5b539f". */
  subject: string;
  issuer: string;
  /** The subject's CN, when it has one. */
  commonName?: string;
  /** Subject alternative names by kind. */
  names: AltNames;
  notBefore: Date;
  notAfter: Date;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
  /** "valid", "expired" or "not yet valid" at `now`. */
  status: 'valid' | 'expired' | 'not yet valid';
  key: KeyDescription;
  signatureAlgorithm: string;
  /** SHA-256 of the DER, as "AB:CD:…". */
  fingerprint256: string;
  /** Hexadecimal, without leading zeros, as OpenSSL prints it. */
  serial: string;
  serialBits: number;
  isCa: boolean;
  pathLen?: number;
  keyUsage: KeyUsage[];
  extKeyUsage: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  selfSigned: boolean;
}

function formatName(attrs: Array<{ type: string; value: string }>): string {
  return attrs.map((a) => `${a.type}=${a.value}`).join(', ');
}

const DAY_MS = 86_400_000;

export function certificateInfo(cert: X509Certificate, now = new Date()): CertificateInfo {
  const parts = certificateParts(cert);
  const ext = readExtensions(parts);
  const subject = readName(parts.subjectDer);
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  const serial = cert.serialNumber.replace(/^0+(?=.)/, '');
  const commonName = subject.findLast((a) => a.type === 'CN')?.value;
  return {
    subject: formatName(subject),
    issuer: formatName(readName(parts.issuerDer)),
    ...(commonName === undefined ? {} : { commonName }),
    names: ext.altNames,
    notBefore,
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    status: now < notBefore ? 'not yet valid' : now > notAfter ? 'expired' : 'valid',
    key: describeKey(cert.publicKey),
    signatureAlgorithm: cert.signatureAlgorithm ?? 'unknown',
    fingerprint256: cert.fingerprint256,
    serial,
    serialBits: BigInt(`0x${serial}`).toString(2).length,
    isCa: cert.ca,
    ...(ext.basicConstraints?.pathLen === undefined ? {} : { pathLen: ext.basicConstraints.pathLen }),
    keyUsage: ext.keyUsage ?? [],
    extKeyUsage: ext.extKeyUsage ?? [],
    ...(ext.subjectKeyId ? { subjectKeyId: ext.subjectKeyId } : {}),
    ...(ext.authorityKeyId ? { authorityKeyId: ext.authorityKeyId } : {}),
    selfSigned: parts.issuerDer.equals(parts.subjectDer) && cert.verify(cert.publicKey),
  };
}
