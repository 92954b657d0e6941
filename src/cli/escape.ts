// The one escaping function for text from the network or a user that reaches
// a terminal or a text log (issue #10, defect 3): packets in `listen`, request
// log lines in `serve`, identities in `users`, answers in `ping`.
//
// Escaped: controls (C0, DEL, C1), format characters (soft hyphen, zero-width
// joiners, word joiners, bidi embeddings and isolates: Unicode TR #9,
// "Trojan Source", CVE-2021-42574), line and paragraph separators, every other
// default-ignorable code point (variation selectors, Hangul fillers) and lone
// surrogates: each could move the cursor, forge a line or disguise a name.

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');
// In JSON text the C0 controls are already escaped inside strings, and raw
// ones (newlines of indentation) are structure: leave them.
const JSON_UNSAFE = /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const JSON_UNSAFE_ALL = new RegExp(JSON_UNSAFE.source, 'gu');

/** `\x1b` for a byte-sized code point, `\u{2060}` above: visible, and unambiguous. */
export function escapeText(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_ALL, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** True when escapeText would change `text`. */
export function needsEscaping(text: string): boolean {
  return UNSAFE.test(text);
}

/**
 * JSON.stringify, with every character escapeText escapes written as \uXXXX
 * (JSON.stringify escapes C0 controls only): the value stays exact for a
 * program and harmless on a terminal.
 */
export function safeJson(value: unknown, indent?: number): string {
  const json = JSON.stringify(value, null, indent);
  if (!JSON_UNSAFE.test(json)) return json;
  return json.replace(JSON_UNSAFE_ALL, (c) => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''));
}
