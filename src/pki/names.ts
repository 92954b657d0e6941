// The names a certificate is for: server host names and IP addresses, client
// email addresses, and the file names its files get. Each check returns the
// problem as text (for flag parsers) or a normalised value.

import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { emailRefusal, refusalText } from '../protocol/email.ts';

export type HostName = { kind: 'dns'; value: string } | { kind: 'ip'; value: string };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** An IP address in canonical text form ("::1", not "0:0::1"); anything else unchanged. */
export function canonicalIp(value: string): string {
  if (isIP(value) !== 6 || value.includes('%')) return value;
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value; // never a reason to fail (issue #10: a zone id made this throw)
  }
}

const HOST_RULE = 'letters, digits and hyphens in dot-separated labels of up to 63 characters, a leading "*." for a wildcard';

/** The first thing wrong with an ASCII DNS name, or undefined (issue #10: say which). */
function dnsProblem(input: string, ascii: string): string | undefined {
  const bad = (why: string) => `"${input}" is not a valid host name: ${why} (${HOST_RULE}; or an IP address)`;
  if (ascii.length > 253) return bad(`it has ${ascii.length} characters (at most 253)`);
  const labels = ascii.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (rest.length === 0) return bad('a wildcard needs a name after "*."');
  for (const label of rest) {
    if (label === '') return bad('an empty label (a dot at the start or two in a row)');
    if (label.length > 63) return bad(`a label of ${label.length} characters (at most 63)`);
    const char = /[^a-z0-9-]/.exec(label)?.[0];
    if (char !== undefined) return bad(`"${char}" is not allowed`);
    if (!LABEL.test(label)) return bad(`the label "${label}" starts or ends with "-"`);
  }
  // URLs read a name whose last label is a number as an IPv4 address
  // (https://0x7f.1/ is 127.0.0.1): a certificate for it could never match.
  if (/^(\d+|0x[0-9a-f]*)$/.test(rest.at(-1) ?? '')) {
    return `"${input}" is not a host name: it ends in a number, so URLs read it as an IPv4 address, and it is not a valid one (give four decimal numbers, e.g. 10.0.0.5)`;
  }
  return undefined;
}

/**
 * A DNS name (letters, digits and hyphens; a leading "*." wildcard; an
 * international name is converted to its ASCII form) or an IPv4 or IPv6
 * address (bare or in brackets). Anything else is a problem with its reason;
 * never an exception (issue #10).
 */
export function parseHost(input: string): { host: HostName } | { problem: string } {
  const value = input.trim();
  if (value === '') return { problem: 'an empty host name' };
  const bracketed = /^\[(.*)\]$/.exec(value)?.[1];
  const address = bracketed ?? value;
  // An IPv6 zone id (fe80::1%eth0, or %25 in a URL) names a local interface:
  // no certificate can hold one (an iPAddress is 16 bytes).
  const zone = /^([0-9a-f:.]*:[0-9a-f:.]*)%(.*)$/i.exec(address);
  if (zone) {
    const bare = zone[1] as string;
    const hint = isIP(bare) === 6 ? `; give "${canonicalIp(bare)}"` : '';
    return { problem: `"${input}" has a zone id (%${zone[2]}): a certificate holds the address alone${hint}` };
  }
  if (isIP(address) === 6 || (bracketed === undefined && isIP(address) === 4)) return { host: { kind: 'ip', value: canonicalIp(address) } };
  const withPort = /^(?:\[([^\]]*)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (withPort && (withPort[1] !== undefined ? isIP(withPort[1]) === 6 : !('problem' in parseHost(withPort[2] as string)))) {
    const host = withPort[1] ?? (withPort[2] as string);
    return { problem: `"${input}" has a port (${withPort[3]}): a certificate is for a host, on every port; give "${canonicalIp(host)}"` };
  }
  if (bracketed !== undefined) return { problem: `"${input}": brackets hold an IPv6 address, and "${bracketed}" is not one` };
  if (/^[\d.]+$/.test(value)) return { problem: `"${input}" is not a valid IPv4 address` };
  if (value.includes(':')) return { problem: `"${input}" is not a valid IPv6 address (and a host name has no ":")` };
  const name = value.replace(/\.$/, '');
  const ascii = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : domainToASCII(name);
  if (ascii === '') return { problem: `"${input}" is not a valid host name: it cannot be converted to ASCII (${HOST_RULE}; or an IP address)` };
  const problem = dnsProblem(input, ascii);
  if (problem) return { problem };
  if (ascii.startsWith('*.') && ascii.split('.').length < 3) return { problem: `"${input}": a wildcard needs at least two labels after "*."` };
  return { host: { kind: 'dns', value: ascii } };
}

/** Why `value` is not an email address the server accepts, or undefined. */
export function emailProblem(value: string): string | undefined {
  const why = emailRefusal(value);
  if (why === undefined) return undefined;
  return `${JSON.stringify(value)} is not an email address: ${refusalText(why)} (the server and the status packet accept only addresses like user@example.com)`;
}

/** The base name of the CA's files (ca.crt, ca.key), which only `certs init` writes. */
export const CA_BASE = 'ca';

/** Longest base name: with ".crt" and a temporary file's prefix and suffix, under 255 bytes. */
export const MAX_BASE_NAME = 200;

/** Whether `base` would name the CA's files: case-insensitive file systems (macOS, Windows) make CA.crt ca.crt. */
export function isCaBaseName(base: string): boolean {
  return base.toLowerCase() === CA_BASE;
}

/**
 * Why `base` cannot be the name of a certificate's files (<base>.crt,
 * <base>.key in --dir), or undefined: a plain file name, never a path, a
 * hidden or option-like name, a control character, or the CA's files
 * (issue #10: `--name ./ca` replaced the CA, `--name ../x` left the directory).
 */
export function fileNameProblem(base: string): string | undefined {
  const shown = JSON.stringify(base);
  if (base === '') return 'an empty file name';
  if (/[/\\]/.test(base)) return `${shown} is a file name, not a path: no "/" or "\\"`;
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(base)) return `${shown} has a control or invisible formatting character`;
  if (base.startsWith('.')) return `${shown} starts with "." (".", ".." and hidden files are not certificate names)`;
  if (base.startsWith('-')) return `${shown} starts with "-", which other programs read as an option`;
  if (Buffer.byteLength(base) > MAX_BASE_NAME) return `${shown.slice(0, 40)}… is longer than ${MAX_BASE_NAME} bytes`;
  if (isCaBaseName(base)) return `${CA_BASE}.crt and ${CA_BASE}.key are the CA's files, which only \`qtstatus certs init\` writes`;
  return undefined;
}

/**
 * A file base name made from an identity or host: "alice@example.org" stays,
 * "a b/c" becomes "a_b_c"; never a path, hidden or option-like (#10). It may
 * still be "ca": callers refuse that (fileNameProblem).
 */
export function fileBaseName(identity: string): string {
  const base = identity.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_').replace(/^-/, '_');
  return base.slice(0, MAX_BASE_NAME) || '_';
}
