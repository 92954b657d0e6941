// The CA that signs: its two files, loaded and checked before any use (a key
// that belongs to the certificate, a CA certificate, not expired).

import { join } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import type { Issuer } from './issue.ts';
import { certificateParts, readExtensions } from './parse.ts';
import { readCertificateAndKey } from './read.ts';

export interface CaPaths {
  certPath: string;
  keyPath: string;
}

export function caPathsIn(dir: string): CaPaths {
  return { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
}

export interface LoadedCa extends Issuer, CaPaths {}

/** Loads a CA and checks it can sign: a matching key, a CA certificate, not expired. */
export async function loadCa(paths: CaPaths, now = new Date()): Promise<LoadedCa> {
  const { certificate, privateKey } = await readCertificateAndKey(paths.certPath, paths.keyPath, { what: 'CA key' });
  const ext = readExtensions(certificateParts(certificate));
  if (!certificate.ca || (ext.keyUsage && !ext.keyUsage.includes('keyCertSign'))) {
    throw new QtError(ErrorCodes.CERT, `${paths.certPath} is not a CA certificate`, {
      cause: !certificate.ca ? 'basicConstraints does not say CA:TRUE' : 'its key usage lacks keyCertSign',
      hint: 'give the CA certificate (ca.crt), not a server or client certificate',
    });
  }
  if (certificate.validToDate <= now) {
    throw new QtError(ErrorCodes.CERT, `CA certificate ${paths.certPath} expired on ${certificate.validToDate.toISOString()}`, {
      reason: 'ca_expired',
      path: paths.certPath,
      facts: { notAfter: certificate.validToDate },
    });
  }
  if (privateKey.asymmetricKeyType !== 'rsa' && privateKey.asymmetricKeyType !== 'ec') {
    throw new QtError(ErrorCodes.CERT, `CA key ${paths.keyPath} is a ${privateKey.asymmetricKeyType} key`, {
      reason: 'ca_key_unsupported',
      path: paths.keyPath,
      value: privateKey.asymmetricKeyType,
      hint: 'only RSA and ECDSA CA keys sign',
    });
  }
  return { ...paths, certificate, privateKey };
}
