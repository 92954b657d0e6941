// The client's identity: its certificate, key and the CA it trusts, read with
// src/pki/read.ts and checked before any connection, so a missing file, a key
// that is not the certificate's, an encrypted key without its passphrase or
// an expired certificate is reported as such rather than as a TLS failure.

import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError, isQtError } from '../errors.ts';
import { certificateInfo, type CertificateInfo } from '../pki/inspect.ts';
import { isEncryptedKeyPem, readCertificateAndKey, readCertificatesFile } from '../pki/read.ts';

export interface CredentialFiles {
  cert: string;
  key: string;
  /** CA certificates to trust; not read when `insecure`. */
  ca: string;
  passphrase?: string;
  passphraseFile?: string;
  /** Said after "give its passphrase" when the key is encrypted and none was given. */
  passphraseHint?: string;
}

export interface Credentials {
  files: { cert: string; key: string; ca: string | undefined };
  /** PEM text for tls.connect. */
  cert: string;
  key: string;
  ca: string | undefined;
  certificate: X509Certificate;
  info: CertificateInfo;
  /** Who we are to the server: the certificate's CN (or its subject). */
  identity: string;
  cas: X509Certificate[];
  caInfo: CertificateInfo[];
}

const DAY_MS = 86_400_000;

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** "2025-12-20 13:06 UTC (2 days ago)". */
export function when(date: Date, now = new Date()): string {
  const ms = Math.abs(date.getTime() - now.getTime());
  const span = ms >= DAY_MS ? plural(Math.round(ms / DAY_MS), 'day') : plural(Math.max(1, Math.round(ms / 3_600_000)), 'hour');
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC (${date < now ? `${span} ago` : `in ${span}`})`;
}

async function readPassphrase(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new QtError(ErrorCodes.FILE, `cannot read the passphrase file ${path}`, { cause: err, hint: 'check --passphrase-file' });
  }
}

/** Reads and checks the client's files; `now` is for tests. */
export async function loadCredentials(f: CredentialFiles & { insecure?: boolean }, now = new Date()): Promise<Credentials> {
  const passphrase = f.passphraseFile !== undefined ? await readPassphrase(f.passphraseFile) : f.passphrase;
  const [pair, cas] = await Promise.all([
    readCertificateAndKey(f.cert, f.key, { passphrase, what: 'client key' }).catch(async (err: unknown) => {
      // pki says "give its passphrase"; say how, when that is the problem.
      if (isQtError(err) && err.code === ErrorCodes.CERT && passphrase === undefined && f.passphraseHint !== undefined) {
        const text = await readFile(f.key, 'latin1').catch(() => '');
        if (isEncryptedKeyPem(text)) {
          throw new QtError(ErrorCodes.CERT, err.message, { hint: `give its passphrase: ${f.passphraseHint}` });
        }
      }
      throw err;
    }),
    f.insecure ? [] : readCertificatesFile(f.ca, 'CA certificate'),
  ]);
  const info = certificateInfo(pair.certificate, now);
  if (info.status === 'expired') {
    throw new QtError(ErrorCodes.CERT_INVALID, `the client certificate ${f.cert} expired on ${when(info.notAfter, now)}`, {
      hint: `make a new one from the server's CA: qtstatus certs client ${info.commonName ?? 'EMAIL'}`,
    });
  }
  if (info.status === 'not yet valid') {
    throw new QtError(ErrorCodes.CERT_INVALID, `the client certificate ${f.cert} is not valid until ${when(info.notBefore, now)}`, {
      hint: "check this computer's clock, or wait",
    });
  }
  return {
    files: { cert: f.cert, key: f.key, ca: f.insecure ? undefined : f.ca },
    cert: pair.certificate.toString(),
    key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    ca: f.insecure ? undefined : cas.map((c) => c.toString()).join(''),
    certificate: pair.certificate,
    info,
    identity: info.commonName ?? info.subject,
    cas,
    caInfo: cas.map((c) => certificateInfo(c, now)),
  };
}
