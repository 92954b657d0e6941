// The record of issued certificates (issue #12): every certificate the CA
// signs is written down in `ca-index.json` beside `ca.crt` (serial, subject,
// names, validity, files), so certificates can be listed, revoked by name,
// renewed before they expire and checked. It plays the part of `openssl
// ca`'s index.txt, in JSON. The file is rewritten whole, atomically
// (./files.ts), and every change is made under a lock, so two runs at once
// do not lose each other's certificates.

import { createHash, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import { normalSerial, REVOKE_REASONS, type RevocationReason } from './crl.ts';
import { CERT_MODE, withLock, type OutFile } from './files.ts';
import { certificateInfo, type CertificateInfo } from './inspect.ts';
import { certificateParts, keyIdentifier, readExtensions } from './parse.ts';

export const RECORD_FILE = 'ca-index.json';
export const CRL_FILE = 'ca.crl';
const LOCK_FILE = '.ca-index.lock';
const VERSION = 1;

export type RecordedRole = 'server' | 'client' | 'other';

export interface RecordedCertificate {
  /** Upper-case hex without leading zeros (normalSerial). */
  serial: string;
  role: RecordedRole;
  /** "CN=alice@example.org". */
  subject: string;
  /** Who it is for: its CN, or the subject when it has none. */
  identity: string;
  names: { dns: string[]; ip: string[]; email: string[] };
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Where its files were written, relative to the CA's directory. */
  cert: string;
  key?: string;
  recordedAt: string;
  /** `issued`: recorded when it was made; `found`: recorded later from its file (made before the record existed). */
  source: 'issued' | 'found';
  /** A newer certificate written to the same file (a renewal, or `init --force`). */
  replacedBy?: string;
  revoked?: { at: string; reason?: RevocationReason };
}

/** A serial a CRL of this CA revoked (one made by `openssl ca`, say) whose certificate is not recorded. */
export interface RevokedUnknown {
  serial: string;
  at: string;
  reason?: RevocationReason;
}

export interface CaRecord {
  version: 1;
  /** Which CA this is the record of. */
  ca: { subject: string; keyId: string; sha256: string };
  crl: {
    /** The number of the last CRL issued (RFC 5280 §5.2.3); 0 before the first. */
    number: number;
    /** How long a new CRL is current (nextUpdate − thisUpdate), when chosen. */
    periodSeconds?: number;
  };
  certificates: RecordedCertificate[];
  revokedUnknown: RevokedUnknown[];
}

export interface RecordPaths {
  dir: string;
  record: string;
  crl: string;
  lock: string;
}

/** The record, CRL and lock files of the CA whose certificate is `caCertPath`: its directory. */
export function recordPathsFor(caCertPath: string): RecordPaths {
  const dir = dirname(caCertPath);
  return { dir, record: join(dir, RECORD_FILE), crl: join(dir, CRL_FILE), lock: join(dir, LOCK_FILE) };
}

/** Runs `work` holding the CA directory's lock: every read-change-write of the record goes through here. */
export function withRecordLock<T>(paths: RecordPaths, work: () => Promise<T>): Promise<T> {
  return withLock(paths.lock, work);
}

/** What identifies a CA in its record: name, key id and the certificate's SHA-256. */
export function caIdentity(ca: X509Certificate): CaRecord['ca'] {
  const parts = certificateParts(ca);
  const keyId = readExtensions(parts).subjectKeyId ?? keyIdentifier(parts.spkiDer).toString('hex');
  return { subject: certificateInfo(ca).subject, keyId, sha256: createHash('sha256').update(ca.raw).digest('hex') };
}

export function emptyRecord(ca: X509Certificate): CaRecord {
  return { version: VERSION, ca: caIdentity(ca), crl: { number: 0 }, certificates: [], revokedUnknown: [] };
}

/** True when `cert` was signed by `ca`: the issuer is the CA's name and the signature verifies with its key. */
export function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return certificateParts(cert).issuerDer.equals(certificateParts(ca).subjectDer) && cert.verify(ca.publicKey);
}

const HEX = /^[0-9A-F]+$/;
const isDate = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isReason = (v: unknown) => v === undefined || (REVOKE_REASONS as readonly unknown[]).includes(v);

/** What is wrong with one recorded certificate, or undefined. */
function entryProblem(e: Record<string, unknown>): string | undefined {
  if (typeof e.serial !== 'string' || !HEX.test(e.serial)) return 'a serial that is not upper-case hexadecimal';
  if (!['server', 'client', 'other'].includes(e.role as string)) return `serial ${e.serial}: role is not server, client or other`;
  if (typeof e.subject !== 'string' || typeof e.identity !== 'string' || typeof e.cert !== 'string') return `serial ${e.serial}: no subject, identity or cert`;
  const names = e.names as Record<string, unknown> | undefined;
  if (!names || !isStrings(names.dns) || !isStrings(names.ip) || !isStrings(names.email)) return `serial ${e.serial}: names are not lists of dns, ip and email`;
  if (!isDate(e.notBefore) || !isDate(e.notAfter) || !isDate(e.recordedAt)) return `serial ${e.serial}: a date that is not ISO 8601`;
  if (e.key !== undefined && typeof e.key !== 'string') return `serial ${e.serial}: key is not a file name`;
  if (e.replacedBy !== undefined && (typeof e.replacedBy !== 'string' || !HEX.test(e.replacedBy))) return `serial ${e.serial}: replacedBy is not a serial`;
  const revoked = e.revoked as Record<string, unknown> | undefined;
  if (revoked !== undefined && (!isDate(revoked.at) || !isReason(revoked.reason))) return `serial ${e.serial}: revoked has no date or an unknown reason`;
  return undefined;
}

/** Parses and checks a record's text; throws naming the file. */
export function parseRecord(text: string, path: string): CaRecord {
  const corrupt = (cause: unknown) =>
    new QtError(ErrorCodes.FILE, `${path} is corrupt`, { cause, hint: 'restore it from a backup; nothing was written' });
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw corrupt(err);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt('not a JSON object');
  if (data.version !== VERSION) throw corrupt(`version ${JSON.stringify(data.version)}, expected ${VERSION}`);
  const ca = data.ca as Record<string, unknown> | undefined;
  if (!ca || typeof ca.subject !== 'string' || typeof ca.keyId !== 'string' || typeof ca.sha256 !== 'string') throw corrupt('no "ca" with subject, keyId and sha256');
  const crl = data.crl as Record<string, unknown> | undefined;
  if (!crl || !Number.isSafeInteger(crl.number) || (crl.number as number) < 0) throw corrupt('no "crl" with a CRL number');
  if (crl.periodSeconds !== undefined && !(Number.isSafeInteger(crl.periodSeconds) && (crl.periodSeconds as number) > 0)) throw corrupt('crl.periodSeconds is not a whole number of seconds');
  if (!Array.isArray(data.certificates)) throw corrupt('no "certificates" list');
  for (const e of data.certificates as unknown[]) {
    const problem = typeof e === 'object' && e !== null ? entryProblem(e as Record<string, unknown>) : 'a certificate that is not an object';
    if (problem) throw corrupt(problem);
  }
  const unknown = data.revokedUnknown ?? [];
  if (!Array.isArray(unknown) || !unknown.every((u: Record<string, unknown>) => typeof u?.serial === 'string' && HEX.test(u.serial) && isDate(u.at) && isReason(u.reason))) {
    throw corrupt('revokedUnknown is not a list of serials with dates');
  }
  return { ...(data as unknown as CaRecord), revokedUnknown: unknown as RevokedUnknown[] };
}

/**
 * The record of `ca`, or undefined when there is none yet (certificates made
 * before qtstatus recorded them). A corrupt record, or the record of another
 * CA, is an error that names the file.
 */
export async function readRecord(path: string, ca: X509Certificate): Promise<CaRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new QtError(ErrorCodes.FILE, `cannot read ${path}`, { cause: err, hint: 'check that you may read it' });
  }
  const record = parseRecord(text, path);
  const mine = caIdentity(ca);
  if (record.ca.sha256 !== mine.sha256) {
    throw new QtError(ErrorCodes.CERT, `${path} is the record of another CA`, {
      cause: `it records "${record.ca.subject}" (key id ${record.ca.keyId}), but the CA certificate is "${mine.subject}" (key id ${mine.keyId})`,
      hint: 'keep each CA\'s record beside its ca.crt; nothing was written',
    });
  }
  return record;
}

/** The record as a file to write with the others (always replaced). */
export function recordFile(record: CaRecord, path: string): OutFile {
  return { path, data: JSON.stringify(record, null, 2) + '\n', mode: CERT_MODE, replace: true };
}

/** A certificate's file path as written in the record: relative to the CA's directory. */
export function recordedPath(paths: RecordPaths, file: string): string {
  return relative(paths.dir, file) || file;
}

/** A recorded file name as a path to open. */
export function filePath(paths: RecordPaths, recorded: string): string {
  return isAbsolute(recorded) ? recorded : join(paths.dir, recorded);
}

/** server or client by extended key usage, as `certs verify` infers it. */
export function roleOf(info: CertificateInfo): RecordedRole {
  const server = info.extKeyUsage.includes('serverAuth');
  const client = info.extKeyUsage.includes('clientAuth');
  return server && !client ? 'server' : client && !server ? 'client' : 'other';
}

export interface EntryFiles {
  certPath: string;
  keyPath?: string;
}

/** The record of one certificate. */
export function entryFor(paths: RecordPaths, cert: X509Certificate, files: EntryFiles, source: RecordedCertificate['source'], now = new Date()): RecordedCertificate {
  const info = certificateInfo(cert, now);
  return {
    serial: normalSerial(cert.serialNumber),
    role: roleOf(info),
    subject: info.subject,
    identity: info.commonName ?? info.subject,
    names: { dns: info.names.dns, ip: info.names.ip, email: info.names.email },
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    cert: recordedPath(paths, files.certPath),
    ...(files.keyPath === undefined ? {} : { key: recordedPath(paths, files.keyPath) }),
    recordedAt: now.toISOString(),
    source,
  };
}

/**
 * Adds newly written certificates. An older certificate recorded for the
 * same file is marked as replaced by the new one: that file no longer holds
 * it, so it is not renewed or checked again (it stays valid until it
 * expires or is revoked).
 */
export function addToRecord(record: CaRecord, entries: RecordedCertificate[]): void {
  for (const entry of entries) {
    for (const old of record.certificates) {
      if (old.cert === entry.cert && old.replacedBy === undefined && old.serial !== entry.serial) old.replacedBy = entry.serial;
    }
    if (!record.certificates.some((c) => c.serial === entry.serial)) record.certificates.push(entry);
  }
}

/** The recorded certificate with this serial (any case, leading zeros or colons). */
export function findSerial(record: CaRecord | undefined, serial: string): RecordedCertificate | undefined {
  const wanted = normalSerial(serial.replace(/:/g, ''));
  return record?.certificates.find((c) => c.serial === wanted);
}

/** The recorded certificates of an identity: their CN, or one of their names (email, DNS, IP). */
export function findIdentity(record: CaRecord | undefined, identity: string): RecordedCertificate[] {
  return record?.certificates.filter((c) => isFor(c, identity)) ?? [];
}

/** Whether a certificate is for `identity`: exactly, as the server compares identities; DNS names are stored in lower case. */
export function isFor(c: RecordedCertificate, identity: string): boolean {
  return c.identity === identity || c.names.email.includes(identity) || c.names.ip.includes(identity) || c.names.dns.includes(identity.toLowerCase());
}
