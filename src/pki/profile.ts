// The certificate profile: what a CA, a server and a client certificate
// contain (docs/certs.md). Extensions are node-forge extension objects;
// ./issue.ts encodes and signs them.

import { randomBytes } from 'node:crypto';
import { ErrorCodes, QtError } from '../errors.ts';
import type { HostName } from './names.ts';

export type Role = 'ca' | 'server' | 'client';

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 365;
/** Longer than this is a typo, not a plan. */
export const MAX_DAYS = 36_500;
/** Apple platforms refuse TLS server certificates valid for longer (also from private CAs). */
export const APPLE_SERVER_MAX_DAYS = 825;
/** notBefore is this far in the past, for clocks that run a little behind. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/**
 * How long a new CRL is current (its nextUpdate). Longer than the 30 days
 * `certs check` looks ahead by default, so a fresh CRL passes; a revocation
 * never waits for it, since every `certs revoke` issues a new CRL at once.
 */
export const DEFAULT_CRL_DAYS = 90;
/** Longest CRL period: a CRL nobody re-issues for years protects nothing. */
export const MAX_CRL_DAYS = 3650;
export const DEFAULT_CLIENT = 'valid_user@qt-test.com';
export const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];
export const CA_ORGANIZATION = 'qtstatus';

/** Why `days` is not a usable validity, or undefined. */
export function daysProblem(days: number): string | undefined {
  if (!Number.isInteger(days) || days < 1) return `${days} is not a whole number of days of 1 or more`;
  if (days > MAX_DAYS) return `${days} days is more than 100 years (at most ${MAX_DAYS})`;
  return undefined;
}

/** `setting`: which validity it is ('days', 'caDays'), named by the CLI. */
export function assertDays(days: number, setting: string): void {
  const problem = daysProblem(days);
  if (problem) throw new QtError(ErrorCodes.USAGE, problem, { reason: 'bad_days', setting, subject: true, value: days, hint: 'the default is 365 days, 3650 for a CA' });
}

/**
 * A random positive serial number of 20 bytes (RFC 5280's maximum): the top
 * bit clear keeps it positive, the next one set keeps its length fixed, and
 * 158 random bits remain (CA/Browser Forum asks for at least 64).
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(20);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** The validity window: notBefore slightly in the past, whole seconds. */
export function validity(days: number, now: Date): { notBefore: Date; notAfter: Date } {
  const start = Math.floor(now.getTime() / 1000) * 1000;
  return { notBefore: new Date(start - CLOCK_SKEW_MS), notAfter: new Date(start + days * 86_400_000) };
}

export interface ExtensionInput {
  role: Role;
  /** RSA keys also get keyEncipherment on servers (RSA key exchange). */
  rsa: boolean;
  hosts?: HostName[];
  /** The client's rfc822Name; absent for a deliberately non-email client. */
  email?: string;
  /** Binary strings, as forge takes them. */
  subjectKeyId: string;
  authorityKeyId?: string;
}

export type ForgeExtension = Record<string, unknown> & { name: string };

export function extensionsFor(input: ExtensionInput): ForgeExtension[] {
  const ski = { name: 'subjectKeyIdentifier', subjectKeyIdentifier: input.subjectKeyId };
  const aki = { name: 'authorityKeyIdentifier', keyIdentifier: input.authorityKeyId ?? input.subjectKeyId };
  switch (input.role) {
    case 'ca':
      return [
        { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
        { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
        ski,
      ];
    case 'server':
      return [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: input.rsa },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: (input.hosts ?? []).map((h) => (h.kind === 'ip' ? { type: 7, ip: h.value } : { type: 2, value: h.value })),
        },
        ski,
        aki,
      ];
    case 'client':
      return [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', clientAuth: true },
        ...(input.email ? [{ name: 'subjectAltName', altNames: [{ type: 1, value: input.email }] }] : []),
        ski,
        aki,
      ];
  }
}
