// The names a certificate is for: server host names and IP addresses, client
// email addresses. Each check returns the problem as text (for flag parsers)
// or a normalised value.

import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { isValidEmail } from '../protocol/email.ts';

export type HostName = { kind: 'dns'; value: string } | { kind: 'ip'; value: string };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** An IP address in canonical text form ("::1", not "0:0::1"). */
export function canonicalIp(value: string): string {
  return isIP(value) === 6 ? new URL(`http://[${value}]/`).hostname.slice(1, -1) : value;
}

/**
 * A DNS name (letters, digits and hyphens; a leading "*." wildcard; an
 * international name is converted to its ASCII form) or an IPv4 or IPv6
 * address.
 */
export function parseHost(input: string): { host: HostName } | { problem: string } {
  const value = input.trim();
  if (value === '') return { problem: 'an empty host name' };
  if (isIP(value) !== 0) return { host: { kind: 'ip', value: canonicalIp(value) } };
  if (value.startsWith('[') && value.endsWith(']') && isIP(value.slice(1, -1)) === 6) {
    return { host: { kind: 'ip', value: canonicalIp(value.slice(1, -1)) } };
  }
  if (/^[\d.]+$/.test(value)) return { problem: `"${input}" is not a valid IPv4 address` };
  if (value.includes(':')) return { problem: `"${input}" is not a valid IPv6 address (and a host name has no ":")` };
  const name = value.replace(/\.$/, '');
  const ascii = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : domainToASCII(name);
  const labels = ascii.split('.');
  const wildcard = labels[0] === '*';
  const rest = wildcard ? labels.slice(1) : labels;
  if (ascii === '' || ascii.length > 253 || rest.length === 0 || !rest.every((l) => LABEL.test(l))) {
    return {
      problem:
        `"${input}" is not a valid host name (letters, digits and hyphens in dot-separated labels ` +
        'of up to 63 characters, a leading "*." for a wildcard) nor an IP address',
    };
  }
  if (wildcard && rest.length < 2) return { problem: `"${input}": a wildcard needs at least two labels after "*."` };
  return { host: { kind: 'dns', value: ascii } };
}

/** Why `value` is not an email address the server accepts, or undefined. */
export function emailProblem(value: string): string | undefined {
  if (isValidEmail(value)) return undefined;
  return `"${value}" is not an email address (the server and the status packet accept only addresses like user@example.com)`;
}

/** A file base name made from an identity: "alice@example.org" stays, "a b/c" becomes "a_b_c". */
export function fileBaseName(identity: string): string {
  const base = identity.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_');
  return base.slice(0, 200) || '_';
}
