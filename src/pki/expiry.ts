// Expiry before it bites (issue #12): when each certificate the CA issued,
// the CA itself and its CRL stop being good, and which of them do so within
// a given time (`certs check`). The small functions at the end give `serve`
// the same dates for its gauges and log warnings.

import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, QtError } from '../errors.ts';
import { readCurrentCrl } from './crl-issue.ts';
import { CrlError, readCrl, type RevocationList } from './crl.ts';
import { listIssued } from './list.ts';
import { readCertificatesFile } from './read.ts';

const DAY_MS = 86_400_000;

export interface ExpiryItem {
  kind: 'certificate' | 'ca' | 'crl';
  file: string;
  /** The identity, the CA's subject, or "CRL number N". */
  what: string;
  serial?: string;
  /** notAfter, or the CRL's nextUpdate. */
  expiresAt: Date;
  /** Whole days left; negative once past. */
  daysLeft: number;
  /** Expires (or expired) within the time asked about. */
  due: boolean;
  /** For certificates: false when found in the CA's directory but not in its record. */
  recorded?: boolean;
}

export interface ExpiryCheck {
  withinMs: number;
  items: ExpiryItem[];
  due: ExpiryItem[];
  /** What was not checked, and why. */
  notes: string[];
}

function item(kind: ExpiryItem['kind'], file: string, what: string, expiresAt: Date, now: Date, withinMs: number, extra: Partial<ExpiryItem> = {}): ExpiryItem {
  const ms = expiresAt.getTime() - now.getTime();
  return { kind, file, what, ...extra, expiresAt, daysLeft: Math.floor(ms / DAY_MS), due: ms <= withinMs };
}

/**
 * Every certificate in use that the CA in `caPath` issued (neither revoked
 * nor replaced; recorded, or found in its directory), the CA and its CRL,
 * each with whether it expires within `withinMs`.
 */
export async function checkExpiry(caPath: string, withinMs: number, now = new Date()): Promise<ExpiryCheck> {
  const listing = await listIssued(caPath, now);
  const notes: string[] = [];
  const items: ExpiryItem[] = [];
  for (const c of [...listing.certificates, ...listing.unrecorded]) {
    if (c.status === 'revoked' || c.status === 'replaced') continue;
    items.push(item('certificate', c.file, c.identity, new Date(c.notAfter), now, withinMs, { serial: c.serial, recorded: c.recorded }));
  }
  if (!listing.hasRecord) notes.push(`${listing.paths.record} does not exist: only certificates in ${listing.paths.dir} were checked`);
  items.push(item('ca', caPath, listing.ca.subject.replace(/\n/g, ', '), listing.ca.validToDate, now, withinMs));
  const crl = await readCurrentCrl(listing.paths.crl, listing.ca);
  if (!crl) notes.push(`${listing.paths.crl} does not exist: no CRL was checked`);
  else if (crl.nextUpdateMs === undefined) notes.push(`${listing.paths.crl} has no next update: it never expires`);
  else items.push(item('crl', listing.paths.crl, `the CRL${crl.number === undefined ? '' : ` (number ${crl.number})`}`, new Date(crl.nextUpdateMs), now, withinMs));
  return { withinMs, items, due: items.filter((i) => i.due), notes };
}

// ---- for serve ----

/** When a certificate, or the first of several (a CA bundle), expires. */
export function certificatesExpiry(certs: X509Certificate[]): Date | undefined {
  const times = certs.map((c) => c.validToDate.getTime());
  return times.length ? new Date(Math.min(...times)) : undefined;
}

/** When a CRL is due to be replaced (its nextUpdate); undefined when it names none. */
export function crlExpiry(list: RevocationList): Date | undefined {
  return list.nextUpdateMs === undefined ? undefined : new Date(list.nextUpdateMs);
}

async function crlFileExpiry(path: string): Promise<Date | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new QtError(ErrorCodes.FILE, `cannot read the CRL ${path}`, { cause: err });
  }
  try {
    return crlExpiry(readCrl(data));
  } catch (err) {
    throw new QtError(ErrorCodes.CERT, `cannot use the CRL ${path}`, { cause: err instanceof CrlError ? err.message : err });
  }
}

export interface ExpiryDates {
  cert?: Date;
  ca?: Date;
  crl?: Date;
}

/**
 * The expiry of the files `serve` uses: its certificate, the CA (the
 * earliest in the file) and the CRL's next update. Files it cannot read
 * throw, naming the file; the CRL's signature is not checked here.
 */
export async function fileExpiryDates(files: { cert?: string; ca?: string; crl?: string }): Promise<ExpiryDates> {
  const [cert, ca, crl] = await Promise.all([
    files.cert === undefined ? undefined : readCertificatesFile(files.cert, 'certificate').then((c) => certificatesExpiry(c.slice(0, 1))),
    files.ca === undefined ? undefined : readCertificatesFile(files.ca, 'CA certificate').then(certificatesExpiry),
    files.crl === undefined ? undefined : crlFileExpiry(files.crl),
  ]);
  return { ...(cert ? { cert } : {}), ...(ca ? { ca } : {}), ...(crl ? { crl } : {}) };
}
