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
  /** The client's certificate and key; both undefined: no client certificate. */
  cert?: string;
  key?: string;
  /** CA certificates to trust; not read when `insecure`. */
  ca: string;
  passphrase?: string;
  passphraseFile?: string;
  /** Said after "give its passphrase" when the key is encrypted and none was given. */
  passphraseHint?: string;
}

/** The certificate and key we present. */
export interface ClientCertificate {
  certFile: string;
  keyFile: string;
  /** PEM text for tls.connect. */
  cert: string;
  key: string;
  certificate: X509Certificate;
  info: CertificateInfo;
}

export interface Credentials {
  /** Undefined: we present no certificate (to see how a server refuses that). */
  client?: ClientCertificate;
  /** Who we are to the server: the certificate's CN (or its subject). */
  identity?: string;
  caFile?: string;
  /** PEM text for tls.connect; undefined when insecure. */
  ca?: string;
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
    throw new QtError(ErrorCodes.FILE, `cannot read the passphrase file ${path}`, { cause: err, reason: 'passphrase_file_unreadable', setting: 'passphraseFile', path });
  }
}

async function readClient(certFile: string, keyFile: string, f: CredentialFiles, now: Date): Promise<ClientCertificate> {
  const passphrase = f.passphraseFile !== undefined ? await readPassphrase(f.passphraseFile) : f.passphrase;
  const pair = await readCertificateAndKey(certFile, keyFile, { passphrase, what: 'client key' }).catch(async (err: unknown) => {
    // pki says "give its passphrase"; say how, when that is the problem.
    if (isQtError(err) && err.code === ErrorCodes.CERT && passphrase === undefined && f.passphraseHint !== undefined) {
      const text = await readFile(keyFile, 'latin1').catch(() => '');
      if (isEncryptedKeyPem(text)) {
        throw new QtError(ErrorCodes.CERT, err.message, { reason: 'key_encrypted', setting: 'key', path: keyFile, hint: `give its passphrase: ${f.passphraseHint}` });
      }
    }
    throw err;
  });
  const info = certificateInfo(pair.certificate, now);
  if (info.status === 'expired') {
    throw new QtError(ErrorCodes.CERT_INVALID, `the client certificate ${certFile} expired on ${when(info.notAfter, now)}`, {
      reason: 'client_cert_expired',
      setting: 'cert',
      path: certFile,
      facts: { commonName: info.commonName, notAfter: info.notAfter },
    });
  }
  if (info.status === 'not yet valid') {
    throw new QtError(ErrorCodes.CERT_INVALID, `the client certificate ${certFile} is not valid until ${when(info.notBefore, now)}`, {
      hint: "check this computer's clock, or wait",
    });
  }
  // A certificate whose extended key usage leaves out clientAuth (a server
  // certificate, say) is refused by every server: say so before connecting.
  if (info.extKeyUsage.length > 0 && !info.extKeyUsage.includes('clientAuth') && !info.extKeyUsage.includes('anyExtendedKeyUsage')) {
    throw new QtError(ErrorCodes.CERT_INVALID, `${certFile} is not a client certificate: its extended key usage is ${info.extKeyUsage.join(', ')}, without clientAuth`, {
      reason: 'not_client_cert',
      setting: 'cert',
      path: certFile,
      facts: { commonName: info.commonName, extKeyUsage: info.extKeyUsage },
    });
  }
  return {
    certFile,
    keyFile,
    cert: pair.certificate.toString(),
    key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certificate: pair.certificate,
    info,
  };
}

/** `qtstatus ping` warns when the client certificate expires within this many days (issue #12). */
export const CLIENT_EXPIRY_WARNING_DAYS = 14;

/**
 * When the client certificate expires within `days` (but has not expired:
 * that is an error, above), what to warn about; otherwise undefined.
 */
export function expiryWarning(client: ClientCertificate, now = new Date(), days = CLIENT_EXPIRY_WARNING_DAYS): string | undefined {
  if (client.info.notAfter.getTime() - now.getTime() > days * DAY_MS) return undefined;
  return `the client certificate ${client.certFile} expires ${when(client.info.notAfter, now)}`;
}

/** Reads and checks the client's files; `now` is for tests. */
export async function loadCredentials(f: CredentialFiles & { insecure?: boolean }, now = new Date()): Promise<Credentials> {
  if ((f.cert === undefined) !== (f.key === undefined)) {
    throw new QtError(ErrorCodes.USAGE, f.cert === undefined ? 'a key without its certificate' : 'a certificate without its key', {
      reason: 'half_pair',
      setting: f.cert === undefined ? 'cert' : 'key',
    });
  }
  const [client, cas] = await Promise.all([
    f.cert === undefined || f.key === undefined ? undefined : readClient(f.cert, f.key, f, now),
    f.insecure ? [] : readCertificatesFile(f.ca, 'CA certificate'),
  ]);
  return {
    ...(client ? { client, identity: client.info.commonName ?? client.info.subject } : {}),
    ...(f.insecure ? {} : { caFile: f.ca, ca: cas.map((c) => c.toString()).join('') }),
    cas,
    caInfo: cas.map((c) => certificateInfo(c, now)),
  };
}
