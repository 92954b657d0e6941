import { describe, expect, it } from 'vitest';
import { isValidEmail } from '../../src/protocol/email.ts';

describe('isValidEmail (the Django EmailValidator rule)', () => {
  const valid = [
    'valid_user@qt-test.com',
    'a@b.cd',
    'bob@localhost',
    'first.last+tag@sub.example.org',
    "!#$%&'*+/=?^_`{|}~-@example.com",
    '"quoted@local"@example.com',
    'user@[127.0.0.1]',
    'user@[::1]',
    'user@b\u00fccher.example',
    'USER@EXAMPLE.COM',
    'a@xn--bcher-kva.example',
  ];
  const invalid = [
    '',
    'not_an_email',
    '"quoted space"@example.com', // Django's qtext leaves out the space
    'a',
    '@example.com',
    'user@',
    'user@example',
    'user@example.c',
    'user@-example.com',
    'user@example-.com',
    'user@example.com-',
    'user@exa mple.com',
    'a b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a..b@example.com',
    'jos\u00e9@example.com',
    'user@[300.1.1.1]',
    'user@[not-an-ip]',
    'user@example.com\n',
    'a'.repeat(310) + '@example.com',
    `a@${'x'.repeat(64)}.com`,
  ];
  for (const v of valid) it(`accepts ${JSON.stringify(v)}`, () => expect(isValidEmail(v)).toBe(true));
  for (const v of invalid) it(`refuses ${JSON.stringify(v)}`, () => expect(isValidEmail(v)).toBe(false));
});
