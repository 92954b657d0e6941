// What one side of the deployment needs, and nothing more (issue #12): the
// CA key stays in the CA's directory, so copying that directory to a server
// would copy the power to mint identities. A bundle is a new directory with
// the side's certificate and key, the CA certificate (to verify the other
// side) and the CRL (`serve --crl`; a client may check the server with it),
// under the same file names as in the CA's directory.

import { readFile, realpath } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import type { CaPaths } from './ca.ts';
import { readCurrentCrl } from './crl-issue.ts';
import { CERT_MODE, ensureDirectory, KEY_MODE, writeFilesAtomically, type OutFile } from './files.ts';
import { certificateInfo } from './inspect.ts';
import { keyMatchesCertificate, readCertificateAndKey, readCertificatesFile } from './read.ts';
import { CRL_FILE, issuedBy, recordPathsFor } from './record.ts';
import { reissueCrl } from './revoke.ts';

export type BundleRole = 'server' | 'client';

export interface BundleOptions {
  role: BundleRole;
  /** The CA whose certificate and CRL go in; its key is only used to issue a CRL when there is none that is current. */
  ca: CaPaths;
  certPath: string;
  /** Default: the certificate's name with .key. */
  keyPath?: string;
  /** The new directory (created 0700). */
  out: string;
  force: boolean;
  now?: Date;
}

export interface Bundle {
  dir: string;
  files: { cert: string; key: string; ca: string; crl: string };
  /** A CRL was issued for it: there was none, or it was past its next update. */
  crlIssued: boolean;
  warnings: string[];
}

const real = (p: string) => realpath(p).catch(() => resolve(p));

export async function writeBundle(opts: BundleOptions): Promise<Bundle> {
  const now = opts.now ?? new Date();
  const paths = recordPathsFor(opts.ca.certPath);
  if ((await real(opts.out)) === (await real(paths.dir))) {
    throw new QtError(ErrorCodes.USAGE, `${opts.out} is the CA's directory`, { hint: 'a bundle is what leaves it: give a new directory' });
  }
  const keyPath = opts.keyPath ?? `${opts.certPath.replace(/\.(crt|pem|cer)$/i, '')}.key`;
  const [cas, pair] = await Promise.all([readCertificatesFile(opts.ca.certPath, 'CA certificate'), readCertificateAndKey(opts.certPath, keyPath)]);
  const ca = cas[0];
  if (!ca) throw new QtError(ErrorCodes.CERT, `${opts.ca.certPath} holds no certificate`);
  const { certificate, privateKey } = pair;
  if (certificate.ca || cas.some((c) => keyMatchesCertificate(c, privateKey))) {
    throw new QtError(ErrorCodes.USAGE, `${opts.certPath} is the CA's own certificate or key`, { hint: 'the CA key never leaves its directory; give the server or client certificate' });
  }
  if (!cas.some((c) => issuedBy(certificate, c))) {
    throw new QtError(ErrorCodes.CERT, `${opts.certPath} was not issued by the CA ${opts.ca.certPath}`, { hint: 'bundle a certificate with the CA that signed it; nothing was written' });
  }
  const info = certificateInfo(certificate, now);
  const usage = opts.role === 'server' ? 'serverAuth' : 'clientAuth';
  if (info.extKeyUsage.length > 0 && !info.extKeyUsage.includes(usage)) {
    throw new QtError(ErrorCodes.USAGE, `${opts.certPath} is not a ${opts.role} certificate`, { cause: `its extended key usage is ${info.extKeyUsage.join(', ')}, without ${usage}` });
  }
  const warnings: string[] = [];
  if (info.status !== 'valid') warnings.push(`${opts.certPath} is ${info.status}`);
  const certName = basename(opts.certPath);
  const keyName = basename(keyPath);
  const caName = basename(opts.ca.certPath);
  const names = [certName, keyName, caName, CRL_FILE];
  if (new Set(names.map((n) => n.toLowerCase())).size < names.length) {
    throw new QtError(ErrorCodes.USAGE, `two files of the bundle would have one name (${names.join(', ')})`, { hint: 'rename the certificate or key first' });
  }

  // The CRL: the current one, or a new one when there is none or it is past
  // its next update (only then is the CA key read).
  const crl = await readCurrentCrl(paths.crl, ca);
  const crlIssued = !crl || (crl.nextUpdateMs !== undefined && crl.nextUpdateMs <= now.getTime());
  if (crlIssued) await reissueCrl({ ca: opts.ca, now });
  const crlData = await readFile(paths.crl);

  const dir = await ensureDirectory(opts.out);
  if (dir.warning) warnings.push(dir.warning);
  const out = { cert: join(opts.out, certName), key: join(opts.out, keyName), ca: join(opts.out, caName), crl: join(opts.out, CRL_FILE) };
  const files: OutFile[] = [
    { path: out.cert, data: certificate.toString(), mode: CERT_MODE },
    { path: out.key, data: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, mode: KEY_MODE },
    { path: out.ca, data: cas.map((c) => c.toString()).join(''), mode: CERT_MODE },
    { path: out.crl, data: crlData, mode: CERT_MODE },
  ];
  await writeFilesAtomically(files, { force: opts.force });
  return { dir: opts.out, files: out, crlIssued, warnings };
}
