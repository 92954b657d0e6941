// The server's certificate, key, CA and CRL, read and checked together so a
// missing file or a key that is not the certificate's fails at start (or at
// SIGHUP, keeping the old ones) with the file named.

import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';
import { readCertificateAndKey, readCertificatesFile } from '../pki/read.ts';
import type { TlsMaterial } from './server.ts';

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
  crl?: string;
}

export async function loadTlsMaterial(files: TlsFiles, passphrase?: string): Promise<TlsMaterial> {
  const [pair, cas, crl] = await Promise.all([
    readCertificateAndKey(files.cert, files.key, { passphrase, what: 'server key' }),
    readCertificatesFile(files.ca, 'CA certificate'),
    files.crl === undefined
      ? undefined
      : readFile(files.crl).catch((err: unknown) => {
          throw new QtError(ErrorCodes.FILE, `cannot read the CRL ${files.crl}`, { cause: err, hint: 'check --crl' });
        }),
  ]);
  return {
    cert: Buffer.from(pair.certificate.toString()),
    key: Buffer.from(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    ca: Buffer.from(cas.map((c) => c.toString()).join('')),
    crl,
  };
}
