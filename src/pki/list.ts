// What a CA has issued (`certs list`, `certs check`): its record, each
// certificate's state today, and the certificates in the CA's directory that
// the CA signed but the record does not know (made before it existed), found
// by their signature. Reading only: no CA key, no lock.

import type { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalSerial } from './crl.ts';
import { parseCertificates, readCertificateFile } from './read.ts';
import {
  entryFor,
  filePath,
  issuedBy,
  readRecord,
  recordPathsFor,
  type RecordedCertificate,
  type RecordPaths,
  type RevokedUnknown,
} from './record.ts';

const DAY_MS = 86_400_000;

export type IssuedStatus = 'valid' | 'expired' | 'not yet valid' | 'revoked' | 'replaced';

export interface ListedCertificate extends RecordedCertificate {
  /** The certificate's file, as a path to open. */
  file: string;
  status: IssuedStatus;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
  /** False for a certificate found in the directory but not in the record. */
  recorded: boolean;
}

export interface Listing {
  ca: X509Certificate;
  caPath: string;
  paths: RecordPaths;
  /** False when the CA has no record yet. */
  hasRecord: boolean;
  certificates: ListedCertificate[];
  /** Signed by the CA, in its directory, not in the record. */
  unrecorded: ListedCertificate[];
  /** Serials an earlier CRL revoked whose certificates are not recorded. */
  revokedUnknown: RevokedUnknown[];
}

export function statusOf(c: RecordedCertificate, now: Date): IssuedStatus {
  if (c.revoked) return 'revoked';
  if (c.replacedBy) return 'replaced';
  if (now < new Date(c.notBefore)) return 'not yet valid';
  return now > new Date(c.notAfter) ? 'expired' : 'valid';
}

function listed(c: RecordedCertificate, paths: RecordPaths, now: Date, recorded: boolean): ListedCertificate {
  return { ...c, file: filePath(paths, c.cert), status: statusOf(c, now), daysLeft: Math.floor((Date.parse(c.notAfter) - now.getTime()) / DAY_MS), recorded };
}

/** Certificates in the CA's directory signed by the CA whose serials are not in `known` (made before the record). */
export async function unrecordedIn(paths: RecordPaths, ca: X509Certificate, caPath: string, known: Set<string>, now: Date): Promise<RecordedCertificate[]> {
  const names = await readdir(paths.dir).catch(() => [] as string[]);
  const out: RecordedCertificate[] = [];
  for (const name of names.sort()) {
    if (!/\.(crt|pem|cer)$/i.test(name) || name.startsWith('.')) continue;
    const file = join(paths.dir, name);
    if (file === caPath) continue;
    let certs: X509Certificate[];
    try {
      certs = parseCertificates(await readFile(file), file);
    } catch {
      continue; // not a certificate (a key, a CSR): not for this list
    }
    const cert = certs[0] as X509Certificate;
    const serial = normalSerial(cert.serialNumber);
    if (known.has(serial) || cert.raw.equals(ca.raw) || !issuedBy(cert, ca)) continue;
    known.add(serial);
    const keyName = name.replace(/\.(crt|pem|cer)$/i, '.key');
    out.push(entryFor(paths, cert, { certPath: file, ...(names.includes(keyName) ? { keyPath: join(paths.dir, keyName) } : {}) }, 'found', now));
  }
  return out;
}

/** The record of the CA in `caPath`, and what its directory holds besides. */
export async function listIssued(caPath: string, now = new Date()): Promise<Listing> {
  const ca = await readCertificateFile(caPath, 'CA certificate');
  const paths = recordPathsFor(caPath);
  const record = await readRecord(paths.record, ca);
  const certificates = (record?.certificates ?? []).map((c) => listed(c, paths, now, true));
  const known = new Set([...(record?.certificates ?? []).map((c) => c.serial), ...(record?.revokedUnknown ?? []).map((u) => u.serial)]);
  const unrecorded = (await unrecordedIn(paths, ca, caPath, known, now)).map((c) => listed(c, paths, now, false));
  return { ca, caPath, paths, hasRecord: record !== undefined, certificates, unrecorded, revokedUnknown: record?.revokedUnknown ?? [] };
}
