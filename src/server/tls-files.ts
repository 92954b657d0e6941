// The server's certificate, key, CA and CRL, read and checked together so a
// missing file or a key that is not the certificate's fails at start (or at
// SIGHUP, keeping the old ones) with the file named.

import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';
import { CrlError, readCrl, type RevocationList } from '../pki/crl.ts';
import { readCertificateAndKey, readCertificatesFile } from '../pki/read.ts';
import type { TlsMaterial } from './server.ts';

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
  crl?: string;
}

export async function loadTlsMaterial(files: TlsFiles, passphrase?: string): Promise<TlsMaterial> {
  // Read at once, but a failure is reported in this order (certificate and
  // key, CA, CRL) whichever read failed first: the same error every time.
  const settled = await Promise.allSettled([
    readCertificateAndKey(files.cert, files.key, { passphrase, what: 'server key' }),
    readCertificatesFile(files.ca, 'CA certificate'),
    files.crl === undefined
      ? undefined
      : readFile(files.crl).catch((err: unknown) => {
          throw new QtError(ErrorCodes.FILE, `cannot read the CRL ${files.crl}`, { cause: err, reason: 'crl_unreadable', setting: 'crl', path: files.crl });
        }),
  ] as const);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  const [pair, cas, crl] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    Awaited<ReturnType<typeof readCertificateAndKey>>,
    Awaited<ReturnType<typeof readCertificatesFile>>,
    Buffer | undefined,
  ];
  const revocation = crl === undefined ? undefined : checkedCrl(files.crl as string, crl, cas);
  return {
    revocation,
    cert: Buffer.from(pair.certificate.toString()),
    key: Buffer.from(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    ca: Buffer.from(cas.map((c) => c.toString()).join('')),
    crl: crl && pemCrl(crl),
    expiry: {
      serverMs: pair.certificate.validToDate.getTime(),
      caMs: Math.min(...cas.map((c) => c.validToDate.getTime())),
      crlMs: revocation?.nextUpdateMs,
    },
  };
}

/** Node's `crl` option takes PEM; a DER file (as `openssl crl -outform DER` writes) is wrapped. */
function pemCrl(data: Buffer): Buffer {
  if (data.includes('-----BEGIN X509 CRL-----')) return data;
  const b64 = data.toString('base64').replace(/.{64}/g, '$&\n');
  return Buffer.from(`-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`);
}

/** A CRL that one of the CA certificates signed; else the file is named and nothing changes. */
function checkedCrl(file: string, data: Buffer, cas: X509Certificate[]): RevocationList {
  let last: unknown;
  for (const ca of cas) {
    try {
      return readCrl(data, ca);
    } catch (err) {
      last = err;
    }
  }
  throw new QtError(ErrorCodes.CERT, `cannot use the CRL ${file}`, {
    cause: last instanceof CrlError ? last.message : last,
    reason: 'crl_invalid',
    setting: 'crl',
    path: file,
  });
}

/** The CRL alone, checked against the CA (proxy mode, where nginx does the TLS). */
export async function loadRevocation(crlFile: string, caFile: string): Promise<RevocationList> {
  const [cas, crl] = await Promise.all([
    readCertificatesFile(caFile, 'CA certificate'),
    readFile(crlFile).catch((err: unknown) => {
      throw new QtError(ErrorCodes.FILE, `cannot read the CRL ${crlFile}`, { cause: err, reason: 'crl_unreadable', setting: 'crl', path: crlFile });
    }),
  ]);
  return checkedCrl(crlFile, crl, cas);
}
