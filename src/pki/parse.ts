// What Node's X509Certificate does not tell: the raw subject and issuer names,
// the public key info and the extensions (key usage bits, basic constraints,
// key identifiers, subject alternative names), read from the DER.

import { createHash, type X509Certificate } from 'node:crypto';
import { canonicalIp } from './names.ts';
import { Tag, derChild, derChildren, derOid, readDer, type DerNode } from './der.ts';

export const Oid = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface CertificateParts {
  /** The signed part, whose DER the signature covers. */
  tbsDer: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** SubjectPublicKeyInfo. */
  spkiDer: Buffer;
  extensions: Map<string, { critical: boolean; value: Buffer }>;
}

export function certificateParts(cert: X509Certificate): CertificateParts {
  const tbs = derChild(readDer(cert.raw), 0, 'TBSCertificate');
  const fields = derChildren(tbs);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0; // version [0] is optional (v1)
  const field = (i: number, what: string): DerNode => {
    const f = fields[at + i];
    if (f === undefined) throw new Error(`malformed certificate: no ${what}`);
    return f;
  };
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const container = fields.find((f) => f.tag === 0xa3);
  if (container) {
    for (const ext of derChildren(derChild(container, 0, 'extensions'))) {
      const parts = derChildren(ext);
      const id = derOid(parts[0]?.content ?? Buffer.alloc(0));
      const critical = parts[1]?.tag === Tag.BOOLEAN && parts[1].content[0] !== 0;
      const value = parts.at(-1);
      if (value?.tag === Tag.OCTET_STRING) extensions.set(id, { critical, value: value.content });
    }
  }
  return {
    tbsDer: tbs.bytes,
    issuerDer: field(2, 'issuer').bytes,
    subjectDer: field(4, 'subject').bytes,
    spkiDer: field(5, 'public key').bytes,
    extensions,
  };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, as OpenSSL computes it. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const bits = derChild(readDer(spkiDer), 1, 'subjectPublicKey');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

function decodeString(node: DerNode): string {
  if (node.tag === 0x1e) return Buffer.from(node.content).swap16().toString('utf16le'); // BMPString
  if (node.tag === 0x0c) return node.content.toString('utf8');
  return node.content.toString('latin1');
}

/** A distinguished name's attributes in order, e.g. [{ type: 'O', value: 'qtstatus' }, { type: 'CN', … }]. */
export function readName(nameDer: Buffer): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  for (const rdn of derChildren(readDer(nameDer))) {
    for (const attr of derChildren(rdn)) {
      const [type, value] = derChildren(attr);
      if (!type || !value) continue;
      const oid = derOid(type.content);
      out.push({ type: ATTRIBUTE_NAMES[oid] ?? oid, value: decodeString(value) });
    }
  }
  return out;
}

const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

const EKU_NAMES: Record<string, string> = {
  [Oid.serverAuth]: 'serverAuth',
  [Oid.clientAuth]: 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

export interface AltNames {
  dns: string[];
  ip: string[];
  email: string[];
  /** URIs, directory names and other kinds, counted only. */
  other: number;
}

export interface Extensions {
  /** Key usage bits, when the extension is present. */
  keyUsage?: KeyUsage[];
  keyUsageCritical: boolean;
  /** Extended key usages by name (or OID when unknown), when present. */
  extKeyUsage?: string[];
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  subjectKeyId?: string;
  authorityKeyId?: string;
  altNames: AltNames;
}

function ipFromBytes(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
    return canonicalIp(groups.join(':'));
  }
  return `invalid address (${bytes.length} bytes)`;
}

export function readExtensions(parts: CertificateParts): Extensions {
  const ext = parts.extensions;
  const out: Extensions = { keyUsageCritical: false, altNames: { dns: [], ip: [], email: [], other: 0 } };
  const ku = ext.get(Oid.keyUsage);
  if (ku) {
    const bits = readDer(ku.value).content.subarray(1);
    out.keyUsage = KEY_USAGE_BITS.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
    out.keyUsageCritical = ku.critical;
  }
  const eku = ext.get(Oid.extKeyUsage);
  if (eku) out.extKeyUsage = derChildren(readDer(eku.value)).map((n) => EKU_NAMES[derOid(n.content)] ?? derOid(n.content));
  const bc = ext.get(Oid.basicConstraints);
  if (bc) {
    const items = derChildren(readDer(bc.value));
    const ca = items.some((n) => n.tag === Tag.BOOLEAN && n.content[0] !== 0);
    const len = items.find((n) => n.tag === Tag.INTEGER);
    out.basicConstraints = { ca, critical: bc.critical, ...(len ? { pathLen: len.content.readUIntBE(0, Math.min(len.content.length, 6)) } : {}) };
  }
  const ski = ext.get(Oid.subjectKeyIdentifier);
  if (ski) out.subjectKeyId = readDer(ski.value).content.toString('hex');
  const aki = ext.get(Oid.authorityKeyIdentifier);
  if (aki) {
    const id = derChildren(readDer(aki.value)).find((n) => n.tag === 0x80);
    if (id) out.authorityKeyId = id.content.toString('hex');
  }
  const san = ext.get(Oid.subjectAltName);
  if (san) {
    for (const name of derChildren(readDer(san.value))) {
      if (name.tag === 0x81) out.altNames.email.push(name.content.toString('latin1'));
      else if (name.tag === 0x82) out.altNames.dns.push(name.content.toString('latin1'));
      else if (name.tag === 0x87) out.altNames.ip.push(ipFromBytes(name.content));
      else out.altNames.other++;
    }
  }
  return out;
}
