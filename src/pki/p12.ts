// PKCS#12 bundles of a client certificate and its key, for browsers, macOS
// Keychain, Windows and tools that want one file. The encryption is the
// legacy-compatible one that every importer reads (what `openssl pkcs12
// -legacy` and Windows' "TripleDES-SHA1" export use): the key in a
// pkcs8ShroudedKeyBag under pbeWithSHAAnd3-KeyTripleDES-CBC, an HMAC-SHA1
// MAC, 2048 iterations. The certificates are public and are stored
// unencrypted, as forge and `openssl pkcs12 -certpbe NONE` store them.
//
// forge's pkcs12.toPkcs12Asn1 handles only RSA keys and certificates it can
// parse itself, so the bundle is assembled here from forge's ASN.1 and PBE
// parts, which handle ECDSA keys as well.

import { createHash, createHmac, randomBytes, type KeyObject, type X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import { asn1FromBuffer, asn1ToBuffer, loadForge, type Asn1 } from './forge.ts';
import { readCertificateAndKey, readCertificatesFile, type CertificateAndKey } from './read.ts';
import { CRL_FILE, RECORD_FILE } from './record.ts';

export const P12_ITERATIONS = 2048;

const OIDS = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha1: '1.3.14.3.2.26',
};

export interface Pkcs12Options {
  certificate: X509Certificate;
  privateKey: KeyObject;
  /** CA certificates to include after the client's own. */
  chain?: X509Certificate[];
  password: string;
  /** The name importers show, e.g. the email address. */
  friendlyName?: string;
}

/** The DER of a PKCS#12 (PFX) file. */
export async function makePkcs12(opts: Pkcs12Options): Promise<Buffer> {
  if (opts.password === '') {
    throw new QtError(ErrorCodes.USAGE, 'a PKCS#12 bundle needs a password', { hint: 'macOS and Windows cannot import one without' });
  }
  if (!opts.certificate.checkPrivateKey(opts.privateKey)) {
    throw new QtError(ErrorCodes.CERT, 'the key does not belong to the certificate', { hint: 'give the matching pair' });
  }
  const forge = await loadForge();
  const { asn1, pki } = forge;
  const U = asn1.Class.UNIVERSAL;
  const T = asn1.Type;
  const oid = (id: string) => asn1.create(U, T.OID, false, asn1.oidToDer(id).getBytes());
  const seq = (items: Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
  const octets = (bytes: Buffer | string) => asn1.create(U, T.OCTETSTRING, false, typeof bytes === 'string' ? bytes : bytes.toString('binary'));
  const explicit0 = (item: Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [item]);
  const attribute = (id: string, value: Asn1) => seq([oid(id), asn1.create(U, T.SET, true, [value])]);
  /** ContentInfo of type data around DER content. */
  const dataInfo = (content: Asn1) => seq([oid(OIDS.data), explicit0(octets(asn1ToBuffer(forge, content)))]);

  // The key and its certificate are paired by localKeyId (SHA-1 of the certificate).
  const attributes = [attribute(OIDS.localKeyId, octets(createHash('sha1').update(opts.certificate.raw).digest()))];
  if (opts.friendlyName) {
    // forge encodes a BMPString from the JavaScript string's UTF-16 code units.
    attributes.push(attribute(OIDS.friendlyName, asn1.create(U, T.BMPSTRING, false, opts.friendlyName)));
  }
  const bagAttributes = asn1.create(U, T.SET, true, attributes);
  const certBags = [opts.certificate, ...(opts.chain ?? [])].map((cert, i) =>
    seq([
      oid(OIDS.certBag),
      explicit0(seq([oid(OIDS.x509Certificate), explicit0(octets(cert.raw))])),
      ...(i === 0 ? [bagAttributes] : []),
    ]),
  );
  const pkcs8 = opts.privateKey.export({ type: 'pkcs8', format: 'der' });
  const shrouded = pki.encryptPrivateKeyInfo(asn1FromBuffer(forge, pkcs8), opts.password, {
    algorithm: '3des',
    count: P12_ITERATIONS,
    saltSize: 8,
  });
  const keyBag = seq([oid(OIDS.pkcs8ShroudedKeyBag), explicit0(shrouded), bagAttributes]);
  const authSafe = seq([dataInfo(seq(certBags)), dataInfo(seq([keyBag]))]);
  const authSafeDer = asn1ToBuffer(forge, authSafe);

  const macSalt = randomBytes(8);
  const macKey = forge.pkcs12.generateKey(opts.password, forge.util.createBuffer(macSalt.toString('binary')), 3, P12_ITERATIONS, 20);
  const mac = createHmac('sha1', Buffer.from(macKey.getBytes(), 'binary')).update(authSafeDer).digest();
  const pfx = seq([
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(3).getBytes()),
    seq([oid(OIDS.data), explicit0(octets(authSafeDer))]),
    seq([
      seq([seq([oid(OIDS.sha1), asn1.create(U, T.NULL, false, '')]), octets(mac)]),
      octets(macSalt),
      asn1.create(U, T.INTEGER, false, asn1.integerToDer(P12_ITERATIONS).getBytes()),
    ]),
  ]);
  return asn1ToBuffer(forge, pfx);
}

// ---- the files of a bundle ----

export interface P12Files {
  cert: string;
  key: string;
  /** The CA file to include; undefined: none. */
  ca?: string;
  /** The CA file was not asked for by name: include it only if it is there. */
  caIfPresent: boolean;
  out: string;
}

/** The files of a bundle of `certFile`: its key, the CA beside it and the output, unless given. */
export function p12Files(certFile: string, given: { key?: string; ca?: string | false; out?: string }): P12Files {
  const stem = certFile.replace(/\.(crt|pem|cer)$/i, '');
  return {
    cert: certFile,
    key: given.key ?? `${stem}.key`,
    ...(given.ca === false ? {} : { ca: given.ca ?? join(dirname(certFile), 'ca.crt') }),
    caIfPresent: given.ca === undefined,
    out: given.out ?? `${stem}.p12`,
  };
}

/**
 * Why the bundle may not be written to `files.out`, or undefined: never
 * over the CA's files (its certificate, key, record or CRL, in any case)
 * nor over the files the bundle is made from (issue #10).
 */
export function p12OutProblem(files: P12Files): { problem: string; caFile: boolean } | undefined {
  const key = (p: string) => resolve(p).toLowerCase();
  const name = basename(files.out).toLowerCase();
  const caFiles: Record<string, string> = { 'ca.crt': 'certificate', 'ca.key': 'key', [CRL_FILE]: 'CRL', [RECORD_FILE]: 'record of issued certificates' };
  if (caFiles[name]) return { problem: `${files.out} is the CA's ${caFiles[name]}`, caFile: true };
  if ([files.cert, files.key, files.ca].some((p) => p !== undefined && key(p) === key(files.out))) return { problem: `${files.out} is one of the bundle's own files`, caFile: false };
  return undefined;
}

/** The certificate, its key (refused unless a pair) and the CA certificates to include. */
export async function readP12Inputs(files: P12Files): Promise<CertificateAndKey & { chain: X509Certificate[] }> {
  const pair = await readCertificateAndKey(files.cert, files.key);
  const present = files.ca !== undefined && (!files.caIfPresent || (await access(files.ca).then(() => true, () => false)));
  const chain = present ? await readCertificatesFile(files.ca as string, 'CA certificate') : [];
  return { ...pair, chain };
}
