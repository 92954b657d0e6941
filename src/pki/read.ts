// Reading certificates and keys from files, with errors that name the file
// and say what to do. The server and the client load their files here too.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

async function readBytes(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT's advice names `qtstatus certs init` (src/cli/hints.ts).
    const why =
      code === 'ENOENT'
        ? { reason: 'file_missing' }
        : code === 'EISDIR'
          ? { reason: 'is_directory', hint: 'give the file, not its directory' }
          : { reason: 'file_unreadable', hint: 'check that the file exists and that you may read it' };
    throw new QtError(ErrorCodes.FILE, `cannot read ${what} ${path}`, { cause: err, path, facts: { what }, ...why });
  }
}

/** The kinds of PEM block in a text, e.g. ["CERTIFICATE", "PRIVATE KEY"]. */
export function pemBlockTypes(text: string): string[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => m[1] as string);
}

/** True for a PEM private key that needs a passphrase (PKCS#8 or legacy OpenSSL encryption). */
export function isEncryptedKeyPem(text: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /Proc-Type:\s*4,ENCRYPTED/.test(text);
}

/** Parses every certificate in PEM text or one DER certificate. */
export function parseCertificates(data: Buffer, path: string): X509Certificate[] {
  const text = data.toString('latin1');
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const notCert = (cause: unknown, what = `${path} is not a PEM or DER certificate`) =>
    new QtError(ErrorCodes.CERT, what, { cause, hint: 'expected a file that starts with -----BEGIN CERTIFICATE-----' });
  if (blocks.length === 0) {
    try {
      return [new X509Certificate(data)]; // DER
    } catch (err) {
      throw notCert(err);
    }
  }
  const certs = blocks.filter((m) => m[1] === 'CERTIFICATE');
  if (certs.length === 0) {
    const kinds = blocks.map((m) => m[1]).join(', ');
    const key = kinds.includes('PRIVATE KEY');
    throw new QtError(ErrorCodes.CERT, `${path} holds ${key ? 'a private key' : kinds}, not a certificate`, {
      hint: key ? 'did you swap the certificate and the key?' : 'expected -----BEGIN CERTIFICATE-----',
    });
  }
  return certs.map((m, i) => {
    try {
      return new X509Certificate(m[0]);
    } catch (err) {
      throw notCert(err, `${path}: certificate ${i + 1} is corrupt`);
    }
  });
}

/** The first certificate in a PEM or DER file. */
export async function readCertificateFile(path: string, what = 'certificate'): Promise<X509Certificate> {
  return parseCertificates(await readBytes(path, what), path)[0] as X509Certificate;
}

/** Every certificate in a PEM file (a chain or a CA bundle). */
export async function readCertificatesFile(path: string, what = 'certificates'): Promise<X509Certificate[]> {
  return parseCertificates(await readBytes(path, what), path);
}

export interface KeyReadOptions {
  /** For an encrypted key. */
  passphrase?: string;
  /** Words for messages, e.g. "CA key". */
  what?: string;
}

/** Parses a PEM (PKCS#8, PKCS#1, SEC1) or DER (PKCS#8) private key. */
export function parsePrivateKey(data: Buffer, path: string, opts: KeyReadOptions = {}): KeyObject {
  const what = opts.what ?? 'private key';
  const text = data.toString('latin1');
  if (isEncryptedKeyPem(text) && opts.passphrase === undefined) {
    throw new QtError(ErrorCodes.CERT, `${what} ${path} is encrypted`, {
      hint: `give its passphrase, or decrypt it: openssl pkey -in ${path} -out decrypted.key`,
    });
  }
  const blocks = pemBlockTypes(text);
  if (blocks.length > 0 && !blocks.some((b) => b.endsWith('PRIVATE KEY'))) {
    const cert = blocks.includes('CERTIFICATE');
    throw new QtError(ErrorCodes.CERT, `${path} holds ${cert ? 'a certificate' : blocks.join(', ')}, not a ${what}`, {
      hint: cert ? 'did you swap the certificate and the key?' : 'expected -----BEGIN PRIVATE KEY-----',
    });
  }
  try {
    return blocks.length > 0
      ? createPrivateKey({ key: text, format: 'pem', passphrase: opts.passphrase })
      : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch (err) {
    const wrongPass = opts.passphrase !== undefined && isEncryptedKeyPem(text);
    throw new QtError(ErrorCodes.CERT, wrongPass ? `cannot decrypt ${what} ${path}` : `${what} ${path} is corrupt`, {
      cause: err,
      hint: wrongPass ? 'check the passphrase' : 'expected a PEM private key (-----BEGIN PRIVATE KEY-----)',
    });
  }
}

export async function readPrivateKeyFile(path: string, opts: KeyReadOptions = {}): Promise<KeyObject> {
  return parsePrivateKey(await readBytes(path, opts.what ?? 'private key'), path, opts);
}

/** True when `key` is the private key of `cert`'s public key. */
export function keyMatchesCertificate(cert: X509Certificate, key: KeyObject): boolean {
  return key.type === 'private' && cert.checkPrivateKey(key);
}

export interface CertificateAndKey {
  certificate: X509Certificate;
  privateKey: KeyObject;
}

/** A certificate and its key; refuses a pair that does not match. */
export async function readCertificateAndKey(certPath: string, keyPath: string, opts: KeyReadOptions = {}): Promise<CertificateAndKey> {
  // Both read at once, but a failure is reported certificate first, so the
  // same mistake always gives the same message.
  const [cert, key] = await Promise.allSettled([readCertificateFile(certPath), readPrivateKeyFile(keyPath, opts)]);
  if (cert.status === 'rejected') throw cert.reason;
  if (key.status === 'rejected') throw key.reason;
  const [certificate, privateKey] = [cert.value, key.value];
  if (!keyMatchesCertificate(certificate, privateKey)) {
    throw new QtError(ErrorCodes.CERT, `${opts.what ?? 'key'} ${keyPath} does not belong to ${certPath}`, {
      reason: 'key_mismatch',
      path: keyPath,
      facts: { certPath },
    });
  }
  return { certificate, privateKey };
}
