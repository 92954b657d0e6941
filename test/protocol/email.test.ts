import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EmailRefusals, emailRefusal, isValidEmail, type EmailRefusal } from '../../src/protocol/email.ts';
import vectors from './vectors.json' with { type: 'json' };

describe('email vectors (test/protocol/vectors.json, make-vectors.py)', () => {
  for (const v of vectors.emails) {
    const reason = (v as { reason?: EmailRefusal }).reason;
    it(`${v.ok ? 'accepts' : 'refuses'} ${JSON.stringify(v.email)}${reason ? ` (${reason})` : ''}`, () => {
      expect(emailRefusal(v.email)).toBe(reason);
      expect(isValidEmail(v.email)).toBe(v.ok);
    });
  }

  it('cover every refusal', () => {
    const covered = new Set(vectors.emails.map((v) => (v as { reason?: string }).reason));
    const extra: Record<string, string> = { bad_length: '', no_at: 'not_an_email' };
    for (const reason of Object.keys(EmailRefusals)) {
      if (reason in extra) expect(emailRefusal(extra[reason] as string)).toBe(reason);
      else expect(covered).toContain(reason);
    }
  });
});

describe('issue #10, defect 2', () => {
  // Each was accepted by the rule before this fix (checked before email.ts changed).
  const strings = [
    'mallory@qt-t\u00e9st.com/\x1b[2J\x1b[H\x1b[32m204 all good',
    'a@b\u00e9.co/\nFORGED LINE',
    'a@b\u00e9.co\\x',
    'a@b\u00e9.co?x',
    'a@b\u00e9.co#x',
    'a@b\u00e9\t.co',
    'a@b\u00e9\r.co',
    'valid_user@qt-test.com\u2060',
    'valid_user@qt-test.com\u2064',
    'valid_user@qt-te\u00adst.com',
    'valid_user@qt-test.com\ufe0f',
    'a@xn--zz.example',
  ];
  for (const s of strings) it(`refuses ${JSON.stringify(s)}`, () => expect(isValidEmail(s)).toBe(false));

  // The old rule followed an older Django; 5.2 refuses these.
  for (const s of ['a@example.123', 'a@b.c1', 'a@b.1c', 'a@123.123.123.123', 'a@b.-c']) {
    it(`refuses ${s} as Django 5.2 does`, () => expect(emailRefusal(s)).toBe('bad_domain'));
  }
});

describe('Django 5.2 EmailValidator edges', () => {
  const accepted = [
    'a@b.cd',
    "!#$%&'*+/=?^_`{|}~-@example.com",
    '"quoted@local"@example.com',
    '"a\\"b"@example.com',
    '""@example.com',
    `a@${'a'.repeat(63)}.com`,
    `a@b.${'c'.repeat(63)}`,
    `${'a'.repeat(300)}@${'b'.repeat(15)}.com`, // 320 characters
    'a@[1::2:3:4:5:6:7]',
    'a@[::ffff:255.255.255.255]',
  ];
  const refused = [
    'a@b.c',
    'a@-b.cd',
    'a@b-.cd',
    'a@b..cd',
    'a@.b.cd',
    'a@example',
    `a@${'a'.repeat(64)}.com`,
    `a@b.${'c'.repeat(64)}`,
    `${'a'.repeat(300)}@${'b'.repeat(16)}.com`, // 321 characters
    'a@[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]', // over Django's 39 characters
    'a@[256.0.0.1]',
    'a@[1.2.3]',
    'a@[1::2::3]',
    'a@[1:2:3:4:5:6:7:8:9]',
    'a@[:1::2]',
    'a@[0000:0000:0000:0000:0000:ffff:192.168.100.228]',
    '.a@b.cd',
    'a.@b.cd',
    'a..b@b.cd',
    'a b@b.cd',
    'a@b.cd\n',
    '"a"b"@example.com',
  ];
  for (const v of accepted) it(`accepts ${JSON.stringify(v)}`, () => expect(emailRefusal(v)).toBeUndefined());
  for (const v of refused) it(`refuses ${JSON.stringify(v)}`, () => expect(isValidEmail(v)).toBe(false));
});

describe('properties', () => {
  const HIDDEN = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;
  // Printable ASCII, a few IDN letters, and the characters the issue names.
  const pieces = [..."aZ09.-_+@\"\\[]:!~ "].concat(['é', 'ü', 'Ü', 'ß', 'א', '例', '·', '．', 'ａ', '\u0301', '\u00ad', '\u200b', '\u200c', '\u200d', '\u2060', '\u2062', '\ufe0f', '\u202e', '\u200e', '\u2066', '\u061c', '\u3164', '\x1b', '\t', '\n', '\x7f', '\x85']);
  const near = fc
    .tuple(
      fc.constantFrom('valid_user@qt-test.com', 'user@bücher.example', 'a@xn--bcher-kva.example', '"q"@b.cd', 'x@[::1]', 'a@例え.テスト'),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...pieces), fc.boolean()), { maxLength: 3 }),
    )
    .map(([base, edits]) => {
      let s = base;
      for (const [at, c, replace] of edits) {
        const i = at % (s.length + 1);
        s = s.slice(0, i) + c + s.slice(replace ? i + 1 : i);
      }
      return s;
    });
  const anyText = fc.oneof(near, fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: fc.constantFrom(...pieces), maxLength: 30 }));

  it('nothing accepted holds a control, format, default-ignorable or bidi-control code point', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        if (isValidEmail(s)) expect(s).not.toMatch(HIDDEN);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepted means unchanged: NFC, and an IDN is its own UTS #46 form', async () => {
    const { domainToASCII, domainToUnicode } = await import('node:url');
    fc.assert(
      fc.property(anyText, (s) => {
        if (!isValidEmail(s)) return;
        expect(s.normalize('NFC')).toBe(s);
        const domain = s.slice(s.lastIndexOf('@') + 1);
        if (/[^\x00-\x7f]/.test(domain)) expect(domainToUnicode(domainToASCII(domain))).toBe(domain);
        // An accepted A-label decodes to a U-label that is itself accepted.
        if (/(^|\.)xn--/.test(domain)) expect(isValidEmail(`u@${domainToUnicode(domain)}`)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('isValidEmail agrees with emailRefusal, and refuses with a fixed reason', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const r = emailRefusal(s);
        expect(isValidEmail(s)).toBe(r === undefined);
        if (r !== undefined) expect(Object.keys(EmailRefusals)).toContain(r);
      }),
      { numRuns: 20_000 },
    );
  });

  it('a name is accepted in both of its forms (U-labels, A-labels) or in neither', async () => {
    const { domainToASCII, domainToUnicode } = await import('node:url');
    const letters = [...'abz09-', 'ü', 'ß', 'ς', 'א', 'ب', '٣', '۳', '例', 'テ', '・', '·', 'l', '\u0301', '\u094d', 'क', 'ı', '≠', '\u{20000}'];
    const label = fc.array(fc.constantFrom(...letters), { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
    const name = fc.tuple(fc.array(label, { minLength: 1, maxLength: 2 }), fc.oneof(fc.constant('example'), label)).map(([ls, tld]) => [...ls, tld].join('.'));
    fc.assert(
      fc.property(name, (u) => {
        const ace = domainToASCII(u);
        if (ace === '' || domainToUnicode(ace) !== u || !/[^\x00-\x7f]/.test(u)) return; // only canonical IDNs
        expect(isValidEmail(`a@${ace}`)).toBe(isValidEmail(`a@${u}`));
      }),
      { numRuns: 20_000 },
    );
  });

  it('an accepted address with one invisible character added is refused', () => {
    const invisible = fc.constantFrom('\u00ad', '\u200b', '\u200c', '\u200d', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\ufe0f', '\ufe00', '\u202e', '\u200f', '\u2066', '\u061c', '\ufeff', '\u034f');
    const valid = fc.constantFrom(...vectors.emails.filter((v) => v.ok).map((v) => v.email));
    fc.assert(
      fc.property(valid, invisible, fc.nat(), (v, c, at) => {
        const i = at % (v.length + 1);
        expect(isValidEmail(v.slice(0, i) + c + v.slice(i))).toBe(false);
      }),
      { numRuns: 5_000 },
    );
  });
});
