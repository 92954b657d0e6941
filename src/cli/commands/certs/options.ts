// Flags the `certs` subcommands share, and their parsers: each bad value is
// a usage error (exit 2) that names the flag and says what is wrong.

import { dirname, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parseRevocationReason, REVOKE_REASONS, type RevocationReason } from '../../../pki/crl.ts';
import type { CaPaths } from '../../../pki/ca.ts';
import { KEY_TYPES, parseKeyType, type KeyType } from '../../../pki/keys.ts';
import { emailProblem, fileNameProblem, parseHost, type HostName } from '../../../pki/names.ts';
import { daysProblem, MAX_CRL_DAYS } from '../../../pki/profile.ts';

export const DEFAULT_DIR = 'certs';

export function parseHostFlag(value: string, previous: HostName[] = []): HostName[] {
  const parsed = parseHost(value);
  if ('problem' in parsed) throw new InvalidArgumentError(parsed.problem);
  return [...previous, parsed.host];
}

export function parseEmailFlag(value: string, previous: string[] = []): string[] {
  const problem = emailProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}; \`qtstatus certs client NAME --allow-non-email\` makes a deliberately bad client`);
  return [...previous, value];
}

export function parseDays(value: string): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  const problem = Number.isNaN(n) ? `"${value}" is not a whole number of days` : daysProblem(n);
  if (problem) throw new InvalidArgumentError(problem);
  return n;
}

export function parseKeyTypeFlag(value: string): KeyType {
  const type = parseKeyType(value);
  if (!type) throw new InvalidArgumentError(`"${value}" is not a key type (${KEY_TYPES.join(', ')})`);
  return type;
}

/** --name: a plain file name in --dir, never a path or the CA's files (#10). */
export function parseNameFlag(value: string): string {
  const problem = fileNameProblem(value);
  if (problem) throw new InvalidArgumentError(/[/\\]/.test(value) ? `${problem} (--dir says where the files go)` : problem);
  return value;
}

export function parseEnvName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an environment variable name`);
  return value;
}

const SPAN_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "30d", "12h", "2w", "90m" (minutes), "45s", or a bare number of days → milliseconds. */
export function parseSpan(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}" is not a time span (try 30d, 12h or 2w; a bare number is days)`);
  const ms = Math.round(Number(m[1]) * (SPAN_UNITS_MS[m[2] || 'd'] as number));
  if (ms > 100 * 365 * 86_400_000) throw new InvalidArgumentError(`"${value}" is more than 100 years`);
  return ms;
}

/** A span as people write it: "30d", "12h", "90m", "45s". */
export function spanText(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = SPAN_UNITS_MS[unit] as number;
    if (ms % size === 0 && (unit !== 'w' || ms >= size)) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

/** --next-update: how long a new CRL is current, at least a minute and at most MAX_CRL_DAYS, in whole seconds. */
export function parseCrlPeriod(value: string): number {
  const seconds = Math.round(parseSpan(value) / 1000);
  if (seconds < 60) throw new InvalidArgumentError(`"${value}" is under a minute: every server would refuse the CRL as expired before it is copied`);
  if (seconds > MAX_CRL_DAYS * 86_400) throw new InvalidArgumentError(`"${value}" is more than ${MAX_CRL_DAYS} days: a CRL is meant to be re-issued`);
  return seconds;
}

export function parseReason(value: string): RevocationReason {
  const reason = parseRevocationReason(value);
  if (!reason) throw new InvalidArgumentError(`"${value}" is not an RFC 5280 revocation reason (${REVOKE_REASONS.join(', ')})`);
  return reason;
}

export function parseSerial(value: string): string {
  const hex = value.trim().replace(/:/g, '').replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,40}$/.test(hex)) throw new InvalidArgumentError(`"${value}" is not a serial number (hexadecimal, as \`qtstatus certs list\` shows it)`);
  return hex.toUpperCase();
}

export interface Quiet {
  json?: boolean;
  quiet?: boolean;
}

export interface CaFlags {
  dir: string;
  ca?: string;
  caKey?: string;
}

/** The CA of the lifecycle commands: --ca/--ca-key, or ca.crt and ca.key in --dir. Its directory holds the record and the CRL. */
export function caPathsFrom(flags: CaFlags): CaPaths {
  return { certPath: flags.ca ?? join(flags.dir, 'ca.crt'), keyPath: flags.caKey ?? (flags.ca !== undefined ? join(dirname(flags.ca), 'ca.key') : join(flags.dir, 'ca.key')) };
}

/** --dir, --ca and --ca-key, as the lifecycle commands take them. */
export function addCaOptions(cmd: Command, withKey = true): Command {
  cmd
    .option('-d, --dir <dir>', 'the CA\'s directory: ca.crt, ca.key, its record ca-index.json and ca.crl', DEFAULT_DIR)
    .option('--ca <file>', 'CA certificate (default <dir>/ca.crt); the record and the CRL are beside it');
  if (withKey) cmd.option('--ca-key <file>', 'CA private key (default: ca.key beside the CA certificate)');
  return cmd;
}
