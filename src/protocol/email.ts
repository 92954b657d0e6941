// The email rule: one rule for the server's CN check, `users`, `certs` and the
// packet codec, so a listener accepts exactly the addresses the server would
// (issue #2). What it checks is exactly what is stored, shown and announced:
// it never accepts a string by normalising it (issue #10, defect 2).
//
// An ASCII address is judged as Django 5.2's EmailValidator judges it (the old
// service requires Django>=5.0,<6.0), with two refusals of its own: control
// characters anywhere (Django lets them into a quoted local part), and `xn--`
// labels that are not valid, lowercase IDNA 2008 A-labels. A domain with
// non-ASCII characters must pass Django's pattern AND be an IDNA 2008 name
// written in its one canonical form (UTS #46 non-transitional; RFC 5890-5893),
// so that nothing invisible, mapped or spoofed can look like another user.
// docs/protocol.md#email-rule has the table. Dependency-free on purpose: the
// codec must run anywhere.

import { domainToASCII, domainToUnicode } from 'node:url';

/** Why an address is refused: stable codes, fixed messages. */
export const EmailRefusals = {
  bad_length: 'is empty or longer than 320 characters',
  control_character: 'contains a control character',
  invisible_character: 'contains an invisible, format or bidi-control character',
  no_at: 'has no @',
  bad_local_part: 'local part is not an ASCII dot-atom or quoted string',
  bad_domain: 'domain is not localhost, a host name with a letter TLD, or an IP address literal',
  bad_a_label: 'an xn-- label is not a valid lowercase A-label',
  not_canonical: 'an internationalised domain must be written as its UTS #46 form: lowercase, NFC, no mapped or ignored characters, U-labels',
  idna_disallowed: 'domain breaks an IDNA 2008 rule: a disallowed character, hyphen, context, bidi or length rule',
} as const;
export type EmailRefusal = keyof typeof EmailRefusals;

/** The refusal as a clause: "it contains a control character", "domain is not …". */
export function refusalText(why: EmailRefusal): string {
  const text = EmailRefusals[why];
  return /^(is|has|contains) /.test(text) ? `it ${text}` : text;
}

// Django: 320 characters (code points) at most, RFC 3696 §3.
const MAX_CHARS = 320;
// Cc, and what draws nothing or reorders text (issue #10: U+2060-2064, soft
// hyphen, ZWJ/ZWNJ, variation selectors, bidi controls): Cf,
// Default_Ignorable_Code_Point, Bidi_Control.
const CONTROL = /\p{Cc}/u;
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;

// Django's user_regex: a dot-atom (RFC 5322 §3.2.3) or a quoted string
// (§3.2.4) whose qtext and quoted-pair leave out the controls Django allows.
const ATEXT = "[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]";
const DOT_ATOM = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*$`);
const QUOTED = /^"(?:[!#-[\]-~]|\\[ -~])*"$/;

// Django's DomainNameValidator pieces as EmailValidator joins them: labels of
// 1-63 letters, digits, hyphens or U+00A1-U+FFFF, no hyphen at either end,
// at least two labels, a last label of 2-63 letters (no digits) or
// `xn--` + 1-59 letters and digits; no trailing dot.
const UL = '\\u00a1-\\uffff';
const LABEL = `(?!-)[a-zA-Z0-9${UL}-]{1,63}(?<!-)`;
const TLD = `(?!-)(?:[a-zA-Z${UL}-]{2,63}|[xX][nN]--[a-zA-Z0-9]{1,59})(?<!-)`;
const DJANGO_DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.${TLD}$`, 'u');
const LITERAL = /^\[([A-Fa-f0-9:.]+)\]$/; // RFC 5321 §4.1.3, without "IPv6:", as Django
const ACE_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/; // STD3 LDH, RFC 5890 §2.3.1

/** Python's ipaddress.IPv4Address, which Django calls: no leading zeros. */
function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** Django's is_valid_ipv6_address: 39 characters at most, then Python's parser. */
function isIPv6(text: string): boolean {
  if (text.length > 39) return false;
  const parts = text.split(':');
  if (parts.length < 3) return false;
  if ((parts.at(-1) as string).includes('.')) {
    if (!isIPv4(parts.pop() as string)) return false;
    parts.push('0', '0');
  }
  if (parts.length > 9) return false;
  let skip = -1;
  for (let i = 1; i < parts.length - 1; i++) {
    if (parts[i] !== '') continue;
    if (skip >= 0) return false; // two "::"
    skip = i;
  }
  let hi = parts.length;
  let lo = 0;
  if (skip >= 0) {
    hi = skip;
    lo = parts.length - skip - 1;
    if (parts[0] === '' && --hi !== 0) return false; // a lone leading ':'
    if (parts.at(-1) === '' && --lo !== 0) return false; // a lone trailing ':'
    if (hi + lo > 7) return false; // "::" must stand for at least one group
  } else if (parts.length !== 8) return false;
  return [...parts.slice(0, hi), ...parts.slice(parts.length - lo)].every((h) => /^[0-9a-fA-F]{1,4}$/.test(h));
}

// RFC 5892: a U-label's non-ASCII code points must be letters, marks or
// digits (§2.1 LetterDigits; Lu/Lt are mapped by UTS #46 anyway), except
// the listed exceptions (§2.6) and blocks (§2.4: Old Hangul Jamo,
// symbol-combining marks, musical notation), plus the CONTEXTO characters
// checked below. Stricter than IDNA 2008 in places: never looser.
const U_CHAR = new RegExp(
  '^(?:[a-z0-9-]|(?![\\u0640\\u07fa\\u302e\\u302f\\u3031-\\u3035\\u303b\\u1100-\\u11ff\\ua960-\\ua97f\\ud7b0-\\ud7ff\\u20d0-\\u20ff\\u{1d100}-\\u{1d24f}])' +
    '[\\p{Ll}\\p{Lo}\\p{Lm}\\p{Mn}\\p{Mc}\\p{Nd}\\u06fd\\u06fe\\u0f0b\\u3007\\u00b7\\u0375\\u05f3\\u05f4\\u30fb])+$',
  'u',
);
const ARABIC_INDIC = /[\u0660-\u0669]/;
const EXT_ARABIC_INDIC = /[\u06f0-\u06f9]/;

/** RFC 5892 Appendix A, the CONTEXTO rules (CONTEXTJ joiners are refused as invisible). */
function contextOk(label: string): boolean {
  const cps = [...label];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    const next = cps[i + 1] ?? '';
    const prev = cps[i - 1] ?? '';
    if (c === '\u00b7' && !(prev === 'l' && next === 'l')) return false; // A.3, Catalan l·l
    if (c === '\u0375' && !/\p{Script=Greek}/u.test(next)) return false; // A.4
    if ((c === '\u05f3' || c === '\u05f4') && !/\p{Script=Hebrew}/u.test(prev)) return false; // A.5, A.6
  }
  const kana = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;
  if (label.includes('\u30fb') && !kana.test(label.replace(/\u30fb/g, ''))) return false; // A.7
  return !(ARABIC_INDIC.test(label) && EXT_ARABIC_INDIC.test(label)); // A.8, A.9
}

// RFC 5893 needs Bidi_Class, which JavaScript's \p{} lacks: this
// approximation classes letters and digits of right-to-left scripts as R,
// U+0660-0669 as AN, ASCII and U+06F0-06F9 digits as EN, Mn as NSM, '-' as
// ES, the CONTEXTO punctuation as ON, the rest as L. Node checks each label
// itself; what it skips is the rule across labels (`1.א.example`).
const RTL_SCRIPT =
  /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Mende_Kikakui}\p{Script=Yezidi}]/u;
function bidiClass(c: string): string {
  if (/\p{Mn}/u.test(c)) return 'NSM';
  if (ARABIC_INDIC.test(c)) return 'AN';
  if (/[0-9]/.test(c) || EXT_ARABIC_INDIC.test(c)) return 'EN';
  if (c === '-') return 'ES';
  if (c === '\u00b7' || c === '\u0375' || c === '\u30fb') return 'ON';
  return RTL_SCRIPT.test(c) ? 'R' : 'L';
}

function bidiOk(labels: string[]): boolean {
  const classes = labels.map((l) => [...l].map(bidiClass));
  if (!classes.some((cs) => cs.includes('R') || cs.includes('AN'))) return true; // not a bidi domain
  return classes.every((cs) => {
    const end = cs.filter((c) => c !== 'NSM').at(-1);
    if (cs[0] === 'R') {
      return cs.every((c) => c !== 'L') && (end === 'R' || end === 'EN' || end === 'AN') && !(cs.includes('EN') && cs.includes('AN')); // rules 2-4
    }
    return cs[0] === 'L' && cs.every((c) => c !== 'R' && c !== 'AN') && (end === 'L' || end === 'EN'); // rules 1, 5, 6
  });
}

/** IDNA 2008 on a domain's Unicode form `labels` and its ASCII form `ace`. */
function idnaOk(labels: string[], ace: string): boolean {
  // RFC 5890 §2.3.2.1, RFC 1034 §3.1: 63-octet labels, 253 octets in all.
  if (ace.length > 253 || !ace.split('.').every((l) => ACE_LABEL.test(l.toLowerCase()))) return false;
  const uLabels = labels.filter((l) => /[^\x00-\x7f]/.test(l));
  // RFC 5891 §4.2.3.1 hyphens (an A-label's U-label too: `xn---bcher-kva` is `-bücher`), §4.2.3.2 marks.
  const hyphensOk = (l: string) => !l.startsWith('-') && !l.endsWith('-') && l.slice(2, 4) !== '--';
  const ok = uLabels.every((l) => U_CHAR.test(l) && hyphensOk(l) && !/^\p{M}/u.test(l) && contextOk(l));
  return ok && bidiOk(labels);
}

/** An `xn--` label's U-label when it is exactly the canonical encoding of one. */
function decodeALabel(label: string): string | undefined {
  if (label !== label.toLowerCase()) return undefined;
  const u = domainToUnicode(label); // gives the label back unchanged when it does not decode
  // Re-encoding must give the very same label (RFC 5891 §5.4), and so u is canonical too.
  return /[^\x00-\x7f]/.test(u) && domainToASCII(u) === label ? u : undefined;
}

function domainRefusal(domain: string): EmailRefusal | undefined {
  if (domain === 'localhost') return undefined; // Django's domain_allowlist, exact case
  const literal = LITERAL.exec(domain);
  if (literal) return isIPv4(literal[1] as string) || isIPv6(literal[1] as string) ? undefined : 'bad_domain';
  if (!DJANGO_DOMAIN.test(domain)) return 'bad_domain';
  const labels = domain.split('.');
  const ascii = !/[^\x00-\x7f]/.test(domain);
  let unicode = labels;
  let ace = domain;
  if (ascii) {
    if (!labels.some((l) => /^xn--/i.test(l))) return undefined; // plain ASCII: Django's verdict
    unicode = [];
    for (const l of labels) {
      const u = /^xn--/i.test(l) ? decodeALabel(l) : l;
      if (u === undefined) return 'bad_a_label';
      unicode.push(u);
    }
  } else {
    // Non-ASCII: the input must already be what UTS #46 toUnicode(toASCII())
    // gives back, so no character was mapped, ignored or case-folded away.
    // Node returns '' when UTS #46 itself refuses (disallowed, joiner, bidi).
    ace = domainToASCII(domain);
    if (ace === '') return 'idna_disallowed';
    if (domainToUnicode(ace) !== domain || domain.normalize('NFC') !== domain) return 'not_canonical';
  }
  if (!idnaOk(unicode, ace)) return 'idna_disallowed';
  // Django's pattern must hold for the other form too (it refuses U-labels
  // beyond U+FFFF or a one-letter last one, and a last A-label with a
  // hyphen), so that a name is accepted in both of its forms or in neither.
  return DJANGO_DOMAIN.test(ascii ? unicode.join('.') : ace) ? undefined : 'bad_domain';
}

/** Why `value` is not an email address by the rule above, or undefined when it is one. */
export function emailRefusal(value: string): EmailRefusal | undefined {
  if (value.length === 0 || (value.length > MAX_CHARS && [...value].length > MAX_CHARS)) return 'bad_length';
  if (CONTROL.test(value)) return 'control_character';
  if (INVISIBLE.test(value)) return 'invisible_character';
  const at = value.lastIndexOf('@'); // Django: rsplit("@", 1)
  if (at < 0) return 'no_at';
  const local = value.slice(0, at);
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return 'bad_local_part';
  return domainRefusal(value.slice(at + 1));
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
    known = emailRefusal(value) === undefined;
    if (value.length <= MAX_CHARS) recent.set(value, known);
  }
  return known;
}
