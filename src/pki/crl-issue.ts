// The CA's next CRL, made from its record (./record.ts): every revoked
// certificate, with the next CRL number. The CRL already in place is read
// first and nothing it revokes is dropped, so a list made by `openssl ca`
// (or a newer one than the record knows) never un-revokes anyone.

import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';
import type { LoadedCa } from './ca.ts';
import { CrlError, makeCrl, readCrl, REVOKE_REASONS, type CrlEntry, type MadeCrl, type RevocationList, type RevocationReason } from './crl.ts';
import { CERT_MODE, type OutFile } from './files.ts';
import { CLOCK_SKEW_MS, DEFAULT_CRL_DAYS } from './profile.ts';
import { findSerial, type CaRecord, type RecordPaths } from './record.ts';

/**
 * The CRL at `path` checked against `ca`, or undefined when there is none.
 * A corrupt CRL, or one another CA signed, is an error that names the file.
 */
export async function readCurrentCrl(path: string, ca: X509Certificate): Promise<RevocationList | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new QtError(ErrorCodes.FILE, `cannot read the CRL ${path}`, { cause: err, hint: 'check that you may read it' });
  }
  try {
    return readCrl(data, ca);
  } catch (err) {
    throw new QtError(ErrorCodes.CERT, `cannot use the CRL ${path}`, {
      cause: err instanceof CrlError ? err.message : err,
      hint: 'it is corrupt or not signed by this CA: move it away and a new one is issued from the record; nothing was written',
    });
  }
}

export interface NextCrl {
  crl: MadeCrl;
  /** The CRL file, to write with the record. */
  file: OutFile;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Revocations found only in the CRL in place, now in the record too. */
  carried: number;
}

const knownReason = (r: string | undefined): RevocationReason | undefined => REVOKE_REASONS.find((k) => k === r);

/**
 * Makes the next CRL of `record`'s CA and updates the record (CRL number,
 * period, revocations carried over from the CRL in place). The caller writes
 * `file` and the record together, under the record's lock.
 */
export async function nextCrl(ca: LoadedCa, record: CaRecord, paths: RecordPaths, opts: { now?: Date; periodSeconds?: number } = {}): Promise<NextCrl> {
  const now = opts.now ?? new Date();
  const current = await readCurrentCrl(paths.crl, ca.certificate);
  let carried = 0;
  for (const [serial, entry] of current?.revoked ?? []) {
    const revoked = { at: new Date(entry.revokedAtMs).toISOString(), ...(knownReason(entry.reason) ? { reason: knownReason(entry.reason) } : {}) };
    const recorded = findSerial(record, serial);
    if (recorded && !recorded.revoked) {
      recorded.revoked = revoked;
      carried++;
    } else if (!recorded && !record.revokedUnknown.some((u) => u.serial === serial)) {
      record.revokedUnknown.push({ serial, ...revoked });
      carried++;
    }
  }
  const previous = BigInt(record.crl.number) > (current?.number ?? 0n) ? BigInt(record.crl.number) : (current?.number ?? 0n);
  const number = previous + 1n;
  if (number > BigInt(Number.MAX_SAFE_INTEGER)) throw new QtError(ErrorCodes.CERT, `the CRL number of ${paths.crl} is too large (${previous})`);
  if (opts.periodSeconds !== undefined) record.crl.periodSeconds = opts.periodSeconds;
  const periodMs = (record.crl.periodSeconds ?? DEFAULT_CRL_DAYS * 86_400) * 1000;
  const start = Math.floor(now.getTime() / 1000) * 1000;
  // thisUpdate a little in the past, as a certificate's notBefore: OpenSSL
  // refuses a CRL from the future ("CRL is not yet valid"), and that would
  // refuse every client of a server whose clock is a little behind.
  const thisUpdate = new Date(start - CLOCK_SKEW_MS);
  const nextUpdate = new Date(start + periodMs);
  const entries: CrlEntry[] = [
    ...record.certificates.flatMap((c) => (c.revoked ? [{ serial: c.serial, revokedAt: new Date(c.revoked.at), ...(c.revoked.reason ? { reason: c.revoked.reason } : {}) }] : [])),
    ...record.revokedUnknown.map((u) => ({ serial: u.serial, revokedAt: new Date(u.at), ...(u.reason ? { reason: u.reason } : {}) })),
  ];
  const crl = await makeCrl({ issuer: ca, entries, number, thisUpdate, nextUpdate });
  record.crl.number = Number(number);
  return { crl, file: { path: paths.crl, data: crl.pem, mode: CERT_MODE, replace: true }, number: Number(number), thisUpdate, nextUpdate, carried };
}
