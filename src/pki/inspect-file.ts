// What a file given to `certs inspect` holds: certificates (PEM or DER),
// or a private key, described without its passphrase when it is encrypted.

import { readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import { ErrorCodes, QtError } from '../errors.ts';
import { certificateInfo, type CertificateInfo } from './inspect.ts';
import { describeKey, type KeyDescription } from './keys.ts';
import { isEncryptedKeyPem, parseCertificates, parsePrivateKey, pemBlockTypes } from './read.ts';

export type InspectedFile =
  | { type: 'private key'; file: string; encrypted: boolean; key?: KeyDescription }
  | { type: 'certificates'; file: string; certificates: Array<{ certificate: X509Certificate; info: CertificateInfo }> };

export async function inspectFile(file: string, now = new Date()): Promise<InspectedFile> {
  const data = await readFile(file).catch((err: unknown) => {
    throw new QtError(ErrorCodes.FILE, `cannot read ${file}`, { cause: err, hint: 'check the path' });
  });
  const text = data.toString('latin1');
  const kinds = pemBlockTypes(text);
  if (kinds.length > 0 && !kinds.includes('CERTIFICATE') && kinds.some((k) => k.endsWith('PRIVATE KEY'))) {
    const encrypted = isEncryptedKeyPem(text);
    return { type: 'private key', file, encrypted, ...(encrypted ? {} : { key: describeKey(parsePrivateKey(data, file)) }) };
  }
  const certificates = parseCertificates(data, file).map((certificate) => ({ certificate, info: certificateInfo(certificate, now) }));
  return { type: 'certificates', file, certificates };
}
