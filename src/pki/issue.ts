// Makes one certificate: node-forge builds the TBSCertificate (names,
// validity, extensions), Node's crypto signs its DER, and forge assembles the
// certificate. The same path serves RSA and ECDSA: forge's own signing and
// public key encoding know only RSA, so the SubjectPublicKeyInfo comes from
// Node (KeyObject.export) and the signature from crypto.sign
// (docs/architecture.md, "Libraries and why").

import { X509Certificate, sign, type KeyObject } from 'node:crypto';
import { ErrorCodes, QtError } from '../errors.ts';
import { asn1FromBuffer, asn1ToBuffer, loadForge, type Asn1, type Forge } from './forge.ts';
import type { HostName } from './names.ts';
import { certificateParts, keyIdentifier, readExtensions } from './parse.ts';
import { CA_ORGANIZATION, extensionsFor, randomSerialHex, validity, type Role } from './profile.ts';

/** The CA that signs a leaf. */
export interface Issuer {
  certificate: X509Certificate;
  privateKey: KeyObject;
}

export interface IssueOptions {
  role: Role;
  /** The key the certificate is for. */
  publicKey: KeyObject;
  commonName: string;
  /** Server names (role server). */
  hosts?: HostName[];
  /** Client rfc822Name (role client); absent for a non-email client. */
  email?: string;
  days: number;
  /** The signing CA; absent for a CA, which signs itself with `selfKey`. */
  issuer?: Issuer;
  selfKey?: KeyObject;
  now?: Date;
}

export interface Issued {
  certificate: X509Certificate;
  pem: string;
  /** Things the caller should tell the user (e.g. validity shortened). */
  warnings: string[];
}

/** Signature algorithms by signing key: SHA-256 always. */
export function signatureAlgorithm(key: KeyObject): { oid: string; withNull: boolean } {
  if (key.asymmetricKeyType === 'rsa') return { oid: '1.2.840.113549.1.1.11', withNull: true }; // sha256WithRSAEncryption
  if (key.asymmetricKeyType === 'ec') return { oid: '1.2.840.10045.4.3.2', withNull: false }; // ecdsa-with-SHA256, no parameters (RFC 5758)
  throw new QtError(ErrorCodes.CERT, `cannot sign with a ${key.asymmetricKeyType ?? 'symmetric'} key`, {
    reason: 'key_unsupported',
    value: key.asymmetricKeyType,
  });
}

export function algorithmIdentifier(forge: Forge, alg: { oid: string; withNull: boolean }): Asn1 {
  const { asn1 } = forge;
  const U = asn1.Class.UNIVERSAL;
  const parts = [asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(alg.oid).getBytes())];
  if (alg.withNull) parts.push(asn1.create(U, asn1.Type.NULL, false, ''));
  return asn1.create(U, asn1.Type.SEQUENCE, true, parts);
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function asn1Time(forge: Forge, date: Date): Asn1 {
  const { asn1 } = forge;
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

export async function issueCertificate(opts: IssueOptions): Promise<Issued> {
  const forge = await loadForge();
  const { asn1, pki } = forge;
  const U = asn1.Class.UNIVERSAL;
  const warnings: string[] = [];
  const signingKey = opts.issuer?.privateKey ?? opts.selfKey;
  if (!signingKey) throw new QtError(ErrorCodes.INTERNAL, 'issueCertificate: no issuer and no key to sign itself with');

  const spki = opts.publicKey.export({ type: 'spki', format: 'der' });
  const ski = keyIdentifier(spki);
  let aki = ski;
  let issuerName: Asn1 | undefined;
  const window = validity(opts.days, opts.now ?? new Date());
  if (opts.issuer) {
    const ca = opts.issuer.certificate;
    const parts = certificateParts(ca);
    // The issuer name is copied byte for byte: re-encoding could change it.
    issuerName = asn1FromBuffer(forge, parts.subjectDer);
    const caKeyId = readExtensions(parts).subjectKeyId;
    aki = caKeyId ? Buffer.from(caKeyId, 'hex') : keyIdentifier(parts.spkiDer);
    if (window.notAfter > ca.validToDate) {
      window.notAfter = ca.validToDate;
      warnings.push(`validity shortened to the CA's expiry, ${ca.validToDate.toISOString().slice(0, 10)}`);
    }
  }

  const cert = pki.createCertificate();
  cert.serialNumber = randomSerialHex();
  cert.validity = window;
  const utf8 = (shortName: string, value: string) => ({ shortName, value, valueTagClass: asn1.Type.UTF8 as unknown as typeof asn1.Class.UNIVERSAL });
  cert.setSubject(opts.role === 'ca' ? [utf8('O', CA_ORGANIZATION), utf8('CN', opts.commonName)] : [utf8('CN', opts.commonName)]);
  const extensions = extensionsFor({
    role: opts.role,
    rsa: opts.publicKey.asymmetricKeyType === 'rsa',
    hosts: opts.hosts,
    email: opts.email,
    subjectKeyId: ski.toString('binary'),
    authorityKeyId: aki.toString('binary'),
  }).map((e) =>
    // forge computes a subject key identifier only from RSA keys: give it the value.
    e.name === 'subjectKeyIdentifier' ? { ...e, value: asn1.create(U, asn1.Type.OCTETSTRING, false, ski.toString('binary')) } : e,
  );
  cert.setExtensions(extensions);

  const alg = signatureAlgorithm(signingKey);
  const encodeExtensions = (pki as unknown as { certificateExtensionsToAsn1(exts: unknown[]): Asn1 }).certificateExtensionsToAsn1;
  const subjectName = pki.distinguishedNameToAsn1(cert.subject);
  const tbs = asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes())]), // v3
    asn1.create(U, asn1.Type.INTEGER, false, forge.util.hexToBytes(cert.serialNumber)),
    algorithmIdentifier(forge, alg),
    issuerName ?? subjectName,
    asn1.create(U, asn1.Type.SEQUENCE, true, [asn1Time(forge, window.notBefore), asn1Time(forge, window.notAfter)]),
    subjectName,
    asn1FromBuffer(forge, spki),
    encodeExtensions(cert.extensions),
  ]);
  const tbsDer = asn1ToBuffer(forge, tbs);
  const signature = sign('sha256', tbsDer, signingKey);
  const der = asn1ToBuffer(
    forge,
    asn1.create(U, asn1.Type.SEQUENCE, true, [
      tbs,
      algorithmIdentifier(forge, alg),
      asn1.create(U, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
    ]),
  );
  const certificate = new X509Certificate(der);
  const issuerKey = opts.issuer?.certificate.publicKey ?? opts.publicKey;
  if (!certificate.verify(issuerKey)) {
    throw new QtError(ErrorCodes.INTERNAL, 'the new certificate does not verify with its issuer key', {
      hint: 'this is a bug: please report it with the command you ran',
    });
  }
  return { certificate, pem: certificate.toString(), warnings };
}
