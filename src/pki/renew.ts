// Renewal (issue #12): a new certificate for the same identity and names,
// from the same CA, with a fresh validity, written over the old files
// atomically and recorded as the old one's successor. A new key by default
// (a renewal is the cheap moment to rotate it); `reuseKey` keeps the key, for
// a key that is pinned or lives in hardware. The old certificate is not
// revoked: it stays valid until it expires, so devices that still hold it
// keep working until they get the new one.

import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import { loadCa, type CaPaths, type LoadedCa } from './ca.ts';
import { CERT_MODE, KEY_MODE, writeFilesAtomically, type OutFile } from './files.ts';
import { loadForge } from './forge.ts';
import { certificateInfo } from './inspect.ts';
import { issueCertificate } from './issue.ts';
import { DEFAULT_KEY_TYPE, generateKeyPair, keyTypeOf, privateKeyPem, type KeyType } from './keys.ts';
import type { HostName } from './names.ts';
import { APPLE_SERVER_MAX_DAYS, assertDays, CLOCK_SKEW_MS, MAX_DAYS } from './profile.ts';
import { readCertificateFile, readPrivateKeyFile, keyMatchesCertificate } from './read.ts';
import {
  addToRecord,
  emptyRecord,
  entryFor,
  filePath,
  findSerial,
  issuedBy,
  readRecord,
  recordFile,
  recordPathsFor,
  roleOf,
  withRecordLock,
  type CaRecord,
  type RecordedCertificate,
  type RecordPaths,
} from './record.ts';

const DAY_MS = 86_400_000;

export interface RenewSettings {
  /** Validity of the new certificate; default: as long as the old one's. */
  days?: number;
  /** Keep the old key instead of making a new one. */
  reuseKey?: boolean;
  /** Type of a new key; default: the old key's type. */
  keyType?: KeyType;
  now?: Date;
}

export interface RenewOptions extends RenewSettings {
  ca: CaPaths;
  /** The certificate to renew; its files are replaced. */
  file: string;
  /** Its key; default: the record's, else the certificate's name with .key. */
  keyFile?: string;
}

export interface Renewed {
  old: RecordedCertificate;
  renewed: RecordedCertificate;
  certPath: string;
  keyPath: string;
  certificate: X509Certificate;
  keyReused: boolean;
  /** Also recorded now: the old certificate was made before the record. */
  found: boolean;
  warnings: string[];
}

/** The validity of `cert` in whole days, without the clock-skew margin of its notBefore. */
function validityDays(cert: X509Certificate): number {
  const ms = cert.validToDate.getTime() - cert.validFromDate.getTime() - CLOCK_SKEW_MS;
  return Math.min(MAX_DAYS, Math.max(1, Math.round(ms / DAY_MS)));
}

const samePath = (a: string, b: string) => resolve(a) === resolve(b);

/** What the new certificate is for: the old one's role, CN and names. */
function specOf(cert: X509Certificate, file: string): { role: 'server' | 'client'; commonName: string; hosts?: HostName[]; email?: string } {
  const info = certificateInfo(cert);
  const role = roleOf(info);
  if (role === 'other') {
    throw new QtError(ErrorCodes.CERT, `${file} is neither a server nor a client certificate`, {
      cause: `its extended key usage is ${info.extKeyUsage.join(', ') || 'absent'}`,
      reason: 'not_leaf_role',
      path: file,
      facts: { extKeyUsage: info.extKeyUsage },
    });
  }
  if (role === 'server') {
    const hosts: HostName[] = [...info.names.dns.map((value) => ({ kind: 'dns' as const, value })), ...info.names.ip.map((value) => ({ kind: 'ip' as const, value }))];
    if (hosts.length === 0) throw new QtError(ErrorCodes.CERT, `${file} is a server certificate without DNS or IP names`, { hint: 'TLS clients match names, not the CN: make a new one with its names' });
    return { role, commonName: info.commonName ?? (hosts[0] as HostName).value, hosts };
  }
  if (info.commonName === undefined) throw new QtError(ErrorCodes.CERT, `${file} has no CN`, { hint: 'the server reads the user from the CN: make a new certificate for the user' });
  return { role, commonName: info.commonName, ...(info.names.email[0] ? { email: info.names.email[0] } : {}) };
}

/** The old certificate checked against the CA, and its record (recorded now when it was made before the record). */
function recordedOld(cert: X509Certificate, file: string, keyPath: string, ca: LoadedCa, record: CaRecord, paths: RecordPaths, now: Date): { entry: RecordedCertificate; found: boolean } {
  if (cert.raw.equals(ca.certificate.raw)) {
    throw new QtError(ErrorCodes.USAGE, `${file} is the CA certificate`, { hint: 'a CA is not renewed: make a new CA in another directory before this one expires' });
  }
  if (!issuedBy(cert, ca.certificate)) {
    throw new QtError(ErrorCodes.CERT, `${file} was not issued by the CA ${ca.certPath}`, {
      cause: `it is issued by "${cert.issuer.replace(/\n/g, ', ')}"`,
      hint: 'a certificate is renewed by the CA that signed it; nothing was written',
    });
  }
  const recorded = findSerial(record, cert.serialNumber);
  if (recorded) return { entry: recorded, found: false };
  const entry = entryFor(paths, cert, { certPath: file, keyPath }, 'found', now);
  addToRecord(record, [entry]);
  return { entry, found: true };
}

/**
 * Renews one certificate under the record's lock, and writes its files and
 * the record. On failure the record is as it was, for the next renewal.
 */
async function renewOne(ca: LoadedCa, record: CaRecord, paths: RecordPaths, cert: X509Certificate, file: string, keyFile: string | undefined, s: RenewSettings): Promise<Renewed> {
  const before = structuredClone(record);
  try {
    return await renewOneUnsafe(ca, record, paths, cert, file, keyFile, s);
  } catch (err) {
    Object.assign(record, before);
    throw err;
  }
}

async function renewOneUnsafe(ca: LoadedCa, record: CaRecord, paths: RecordPaths, cert: X509Certificate, file: string, keyFile: string | undefined, s: RenewSettings): Promise<Renewed> {
  const now = s.now ?? new Date();
  const recordedKey = findSerial(record, cert.serialNumber)?.key;
  const keyPath = keyFile ?? (recordedKey ? filePath(paths, recordedKey) : `${file.replace(/\.(crt|pem|cer)$/i, '')}.key`);
  const { entry: old, found } = recordedOld(cert, file, keyPath, ca, record, paths, now);
  for (const p of [file, keyPath]) {
    if (samePath(p, ca.certPath) || samePath(p, ca.keyPath)) {
      throw new QtError(ErrorCodes.USAGE, `${p} is the CA's ${p === file ? 'certificate' : 'key'}`, { hint: 'nothing was written' });
    }
  }
  if (samePath(file, keyPath)) throw new QtError(ErrorCodes.USAGE, `${file}: the certificate and the key would be one file`, { hint: 'give the key file' });
  const spec = specOf(cert, file);
  const days = s.days ?? validityDays(cert);
  assertDays(days, 'days');
  if (old.revoked && s.reuseKey) {
    throw new QtError(ErrorCodes.USAGE, `${file} is revoked${old.revoked.reason ? ` (${old.revoked.reason})` : ''}: its key is not used again`, {
      hint: 'renew it with a new key',
    });
  }
  let publicKey: KeyObject;
  let newKey: KeyObject | undefined;
  if (s.reuseKey) {
    const key = await readPrivateKeyFile(keyPath, { what: 'key' });
    if (!keyMatchesCertificate(cert, key)) {
      throw new QtError(ErrorCodes.CERT, `key ${keyPath} does not belong to ${file}`, { hint: 'give the certificate\'s own key; nothing was written' });
    }
    publicKey = createPublicKey(key);
  } else {
    const [pair] = await Promise.all([generateKeyPair(s.keyType ?? keyTypeOf(cert.publicKey) ?? keyTypeOf(ca.privateKey) ?? DEFAULT_KEY_TYPE), loadForge()]);
    publicKey = pair.publicKey;
    newKey = pair.privateKey;
  }
  const issued = await issueCertificate({ ...spec, publicKey, days, issuer: ca, now });
  const warnings = issued.warnings.map((w) => `${file}: ${w}`);
  if (spec.role === 'server' && days > APPLE_SERVER_MAX_DAYS) warnings.push(`${file} is valid for ${days} days: macOS and iOS refuse server certificates valid for more than ${APPLE_SERVER_MAX_DAYS}`);
  const renewed = entryFor(paths, issued.certificate, { certPath: file, keyPath }, 'issued', now);
  addToRecord(record, [renewed]);
  old.replacedBy ??= renewed.serial;
  const files: OutFile[] = [
    ...(newKey ? [{ path: keyPath, data: privateKeyPem(newKey), mode: KEY_MODE, replace: true }] : []),
    { path: file, data: issued.pem, mode: CERT_MODE, replace: true },
    recordFile(record, paths.record),
  ];
  await writeFilesAtomically(files, { force: true });
  return { old, renewed, certPath: file, keyPath, certificate: issued.certificate, keyReused: newKey === undefined, found, warnings };
}

async function withCa<T>(caPaths: CaPaths, now: Date | undefined, work: (ca: LoadedCa, record: CaRecord, paths: RecordPaths) => Promise<T>): Promise<T> {
  const ca = await loadCa(caPaths, now);
  const paths = recordPathsFor(ca.certPath);
  return withRecordLock(paths, async () => work(ca, (await readRecord(paths.record, ca.certificate)) ?? emptyRecord(ca.certificate), paths));
}

/** Renews the certificate in `opts.file`. */
export async function renewCertificate(opts: RenewOptions): Promise<Renewed> {
  if (opts.days !== undefined) assertDays(opts.days, 'days');
  return withCa(opts.ca, opts.now, async (ca, record, paths) => {
    const cert = await readCertificateFile(opts.file);
    return renewOne(ca, record, paths, cert, opts.file, opts.keyFile, opts);
  });
}

export interface RenewAllResult {
  record: string;
  renewed: Renewed[];
  /** Recorded certificates due but left alone, and why. */
  skipped: Array<{ entry: RecordedCertificate; file: string; why: string }>;
  failed: Array<{ entry: RecordedCertificate; file: string; error: unknown }>;
}

/**
 * Renews every recorded certificate that expires within `withinMs` (expired
 * ones too) and is neither revoked nor replaced, each written as soon as it
 * is made.
 */
export async function renewExpiring(opts: RenewSettings & { ca: CaPaths; withinMs: number }): Promise<RenewAllResult> {
  if (opts.days !== undefined) assertDays(opts.days, 'days');
  const now = opts.now ?? new Date();
  return withCa(opts.ca, opts.now, async (ca, record, paths) => {
    const out: RenewAllResult = { record: paths.record, renewed: [], skipped: [], failed: [] };
    const due = record.certificates.filter((c) => !c.revoked && !c.replacedBy && new Date(c.notAfter).getTime() - now.getTime() <= opts.withinMs);
    for (const entry of due) {
      const file = filePath(paths, entry.cert);
      let cert: X509Certificate;
      try {
        cert = await readCertificateFile(file);
      } catch (err) {
        out.skipped.push({ entry, file, why: `cannot read it: ${(err as Error).message}` });
        continue;
      }
      if (certificateInfo(cert).serial !== entry.serial) {
        out.skipped.push({ entry, file, why: `it now holds another certificate (serial ${certificateInfo(cert).serial})` });
        continue;
      }
      if (entry.role === 'other') {
        out.skipped.push({ entry, file, why: 'neither a server nor a client certificate' });
        continue;
      }
      try {
        out.renewed.push(await renewOne(ca, record, paths, cert, file, entry.key ? filePath(paths, entry.key) : undefined, { ...opts, now }));
      } catch (err) {
        out.failed.push({ entry, file, error: err });
      }
    }
    return out;
  });
}
