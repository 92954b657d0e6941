// Taking certificates back (issue #12): `certs revoke` marks certificates
// revoked in the CA's record and issues a fresh CRL at once; `certs crl`
// issues the next CRL with nothing new, before the current one's
// nextUpdate. Both need the CA key, and write the record and `ca.crl`
// together under the record's lock.

import type { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';
import { loadCa, type CaPaths, type LoadedCa } from './ca.ts';
import { nextCrl, type NextCrl } from './crl-issue.ts';
import { normalSerial, type RevocationReason } from './crl.ts';
import { writeFilesAtomically } from './files.ts';
import { unrecordedIn } from './list.ts';
import { readCertificateFile } from './read.ts';
import {
  addToRecord,
  emptyRecord,
  entryFor,
  filePath,
  findIdentity,
  findSerial,
  isFor,
  issuedBy,
  readRecord,
  recordFile,
  recordPathsFor,
  withRecordLock,
  type CaRecord,
  type RecordedCertificate,
  type RecordPaths,
} from './record.ts';

export type RevokeTarget = { serial: string } | { identity: string } | { file: string };

export interface CrlOptions {
  ca: CaPaths;
  now?: Date;
  /** nextUpdate − thisUpdate of this CRL and the next ones; otherwise the record's, or DEFAULT_CRL_DAYS. */
  periodSeconds?: number;
}

export interface RevokeOptions extends CrlOptions {
  target: RevokeTarget;
  /** RFC 5280 §5.3.1; absent means unspecified (no reason code in the CRL). */
  reason?: RevocationReason;
}

export interface PublishedCrl {
  path: string;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Serials it lists. */
  revoked: number;
  /** Revocations found only in the CRL that was in place, kept. */
  carried: number;
}

export interface RevokeResult {
  record: string;
  /** Revoked now. */
  revoked: RecordedCertificate[];
  /** Revoked before; left as they were. */
  already: RecordedCertificate[];
  /** Among `revoked`, certificates the record did not have (made before it), recorded from their file. */
  found: RecordedCertificate[];
  crl: PublishedCrl;
}

function published(paths: RecordPaths, next: NextCrl): PublishedCrl {
  return { path: paths.crl, number: next.number, thisUpdate: next.thisUpdate, nextUpdate: next.nextUpdate, revoked: next.crl.list.revoked.size, carried: next.carried };
}

/** Loads the CA, then runs `work` on its record under the lock; writes the record and the next CRL. */
async function withCaRecord<T>(opts: CrlOptions, work: (ca: LoadedCa, record: CaRecord, paths: RecordPaths) => Promise<T>): Promise<{ result: T; crl: PublishedCrl; record: string }> {
  const ca = await loadCa(opts.ca, opts.now);
  const paths = recordPathsFor(ca.certPath);
  return withRecordLock(paths, async () => {
    const record = (await readRecord(paths.record, ca.certificate)) ?? emptyRecord(ca.certificate);
    const result = await work(ca, record, paths);
    const next = await nextCrl(ca, record, paths, { now: opts.now, periodSeconds: opts.periodSeconds });
    // The CRL first: a revocation takes effect even if the record then fails (the next run carries it over from the CRL).
    await writeFilesAtomically([next.file, recordFile(record, paths.record)], { force: true });
    return { result, crl: published(paths, next), record: paths.record };
  });
}

/** The certificate in `file`, recorded if it was made before the record; refused unless this CA signed it. */
async function fromFile(file: string, ca: LoadedCa, record: CaRecord, paths: RecordPaths, now: Date): Promise<{ entry: RecordedCertificate; found: boolean }> {
  const cert: X509Certificate = await readCertificateFile(file);
  if (cert.raw.equals(ca.certificate.raw)) {
    throw new QtError(ErrorCodes.USAGE, `${file} is the CA certificate itself`, { hint: 'a CA is not revoked by its own CRL: stop trusting it and make a new CA' });
  }
  if (!issuedBy(cert, ca.certificate)) {
    throw new QtError(ErrorCodes.CERT, `${file} was not issued by the CA ${ca.certPath}`, {
      cause: `it is issued by "${cert.issuer.replace(/\n/g, ', ')}"${cert.issuer === ca.certificate.subject ? ', a CA of the same name whose key did not sign it' : ''}`,
      hint: 'only the CA that signed a certificate can revoke it; nothing was written',
    });
  }
  const recorded = findSerial(record, cert.serialNumber);
  if (recorded) return { entry: recorded, found: false };
  const keyPath = file.replace(/\.(crt|pem|cer)$/i, '') + '.key';
  const hasKey = keyPath !== file && (await access(keyPath).then(() => true, () => false));
  const entry = entryFor(paths, cert, { certPath: file, ...(hasKey ? { keyPath } : {}) }, 'found', now);
  addToRecord(record, [entry]);
  return { entry, found: true };
}

function notFound(what: string, paths: RecordPaths, record: CaRecord): QtError {
  const none = record.certificates.length === 0;
  return new QtError(ErrorCodes.NOT_FOUND, `no certificate ${what} in ${paths.record}`, {
    ...(none ? { cause: `it records no certificate yet, and none in ${paths.dir} matches` } : {}),
  });
}

/** Marks the target's certificates revoked and publishes the CRL. */
export async function revokeCertificates(opts: RevokeOptions): Promise<RevokeResult> {
  const now = opts.now ?? new Date();
  const { result, crl, record } = await withCaRecord(opts, async (ca, record, paths) => {
    let targets: RecordedCertificate[];
    const found: RecordedCertificate[] = [];
    const t = opts.target;
    // Certificates made before the record, in the CA's directory, count too: recorded when revoked.
    const unrecorded = async (match: (c: RecordedCertificate) => boolean) => {
      const known = new Set([...record.certificates, ...record.revokedUnknown].map((c) => c.serial));
      const more = (await unrecordedIn(paths, ca.certificate, ca.certPath, known, now)).filter(match);
      addToRecord(record, more);
      found.push(...more);
      return more;
    };
    if ('serial' in t) {
      const entry = findSerial(record, t.serial) ?? (await unrecorded((c) => c.serial === normalSerial(t.serial.replace(/:/g, ''))))[0];
      if (!entry) throw notFound(`with serial ${t.serial}`, paths, record);
      targets = [entry];
    } else if ('file' in t) {
      const { entry, found: isNew } = await fromFile(t.file, ca, record, paths, now);
      if (isNew) found.push(entry);
      targets = [entry];
    } else {
      targets = findIdentity(record, t.identity);
      if (targets.length === 0) targets = await unrecorded((c) => isFor(c, t.identity));
      if (targets.length === 0) throw notFound(`for "${t.identity}"`, paths, record);
      // Every certificate of that identity still valid: a person who leaves, or a lost device, loses them all.
      const live = targets.filter((c) => c.revoked !== undefined || new Date(c.notAfter) > now);
      targets = live.length > 0 ? live : targets;
    }
    const already = targets.filter((c) => c.revoked !== undefined);
    const revoked = targets.filter((c) => c.revoked === undefined);
    for (const c of revoked) c.revoked = { at: now.toISOString(), ...(opts.reason ? { reason: opts.reason } : {}) };
    return { revoked, already, found };
  });
  return { record, ...result, crl };
}

/** Issues the next CRL, revoking nothing new (`certs crl`). */
export async function reissueCrl(opts: CrlOptions): Promise<{ record: string; crl: PublishedCrl }> {
  const { crl, record } = await withCaRecord(opts, async () => undefined);
  return { record, crl };
}

/** Where a recorded certificate's file is. */
export function recordedFile(caCertPath: string, entry: RecordedCertificate): string {
  return filePath(recordPathsFor(caCertPath), entry.cert);
}
