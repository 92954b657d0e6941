// The email rule shared by the packet codec and the server's CN check, so a
// listener accepts exactly the addresses the server would (issue #2).
//
// It follows the validator of the Django service qtstatus replaces (Django's
// EmailValidator): a dot-atom or quoted-string local part (RFC 5322 §3.2.3,
// §3.2.4), and a domain that is `localhost`, a dotted host name whose last
// label has 2 to 63 characters, an IDN that converts to one, or an address
// literal such as `[192.0.2.1]` or `[::1]` (RFC 5321 §4.1.3, without the
// `IPv6:` tag, as Django).
// Dependency-free on purpose: the codec must run anywhere.

import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

const MAX_LENGTH = 320;
const ATEXT = "[-!#$%&'*+/=?^_`{}|~0-9A-Z]";
const DOT_ATOM = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*$`, 'i');
// qtext and quoted-pair, as Django has them (control characters included).
const QUOTED = /^"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$/;
const DOMAIN = /^(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+[A-Z0-9-]{2,63}$/i;
const LITERAL = /^\[([A-F0-9:.]+)\]$/i;

function validDomain(domain: string): boolean {
  if (DOMAIN.test(domain) && !domain.endsWith('-')) return true;
  const literal = LITERAL.exec(domain);
  return literal !== null && isIP(literal[1] ?? '') !== 0;
}

// The same few addresses are checked again and again (every packet, every
// request); remembering recent answers skips the regular expressions.
const recent = new Map<string, boolean>();
const RECENT_MAX = 4096;

/** True when `value` is an email address by the rule above. */
export function isValidEmail(value: string): boolean {
  let known = recent.get(value);
  if (known === undefined) {
    if (recent.size >= RECENT_MAX) recent.clear();
    known = checkEmail(value);
    if (value.length <= MAX_LENGTH) recent.set(value, known);
  }
  return known;
}

function checkEmail(value: string): boolean {
  if (value.length === 0 || value.length > MAX_LENGTH) return false;
  const at = value.lastIndexOf('@');
  if (at < 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return false;
  if (domain === 'localhost' || validDomain(domain)) return true;
  // A possible IDN: validate its ASCII (punycode) form.
  if (domain.length === 0 || /^[\x00-\x7f]*$/.test(domain)) return false;
  const ascii = domainToASCII(domain);
  return ascii !== '' && validDomain(ascii);
}
