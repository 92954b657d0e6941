import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_EXPIRY_WARNING_DAYS, expiryWarning, loadCredentials, when } from '../../src/client/credentials.ts';
import { ErrorCodes, QtError } from '../../src/errors.ts';
import { formatError } from '../../src/cli/report.ts';
import { makeTestPki, VALID_USER, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
let encrypted: string;
beforeAll(async () => {
  pki = await makeTestPki();
  encrypted = join(pki.dir, 'encrypted.key');
  execFileSync('openssl', ['pkey', '-in', pki.client.key, '-aes256', '-passout', 'pass:x', '-out', encrypted]);
  writeFileSync(join(pki.dir, 'pass.txt'), 'x\n');
  writeFileSync(join(pki.dir, 'wrong-pass.txt'), 'y\n');
});
afterAll(() => pki.remove());

async function failure(p: Promise<unknown>): Promise<QtError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof QtError) return err;
    throw err;
  }
  throw new Error('expected a QtError');
}

const files = (over: Partial<Parameters<typeof loadCredentials>[0]> = {}) => ({ cert: pki.client.cert, key: pki.client.key, ca: pki.ca, ...over });

describe('loadCredentials', () => {
  it('reads the pair and the CA, and knows who we are', async () => {
    const c = await loadCredentials(files());
    expect(c.identity).toBe(VALID_USER);
    expect(c.client?.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(c.client?.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(c.cas).toHaveLength(1);
    expect(c.client?.info.issuer).toMatch(/CN=qtstatus CA/);
  });

  it('may present no certificate at all, but not half a pair', async () => {
    const none = await loadCredentials({ ca: pki.ca });
    expect(none.client).toBeUndefined();
    expect(none.identity).toBeUndefined();
    const half = await failure(loadCredentials({ ca: pki.ca, cert: pki.client.cert }));
    expect(half.code).toBe(ErrorCodes.USAGE);
    expect(formatError(half)).toBe('qtstatus: a certificate without its key (give both --cert and --key)');
  });

  it('refuses a key that is not the certificate\'s', async () => {
    const e = await failure(loadCredentials(files({ key: pki.server.key })));
    expect(e.code).toBe(ErrorCodes.CERT);
    expect(formatError(e)).toMatch(/client key .*server\.key does not belong to .*client\.crt/);
  });

  it('says how to give the passphrase of an encrypted key', async () => {
    const e = await failure(loadCredentials(files({ key: encrypted, passphraseHint: '--passphrase-file FILE or QTSTATUS_KEY_PASSPHRASE' })));
    expect(e.code).toBe(ErrorCodes.CERT);
    expect(formatError(e)).toMatch(/client key .*encrypted\.key is encrypted \(give its passphrase: --passphrase-file FILE or QTSTATUS_KEY_PASSPHRASE\)/);
  });

  it('decrypts with the passphrase or its file, and names a wrong one', async () => {
    expect((await loadCredentials(files({ key: encrypted, passphrase: 'x' }))).identity).toBe(VALID_USER);
    expect((await loadCredentials(files({ key: encrypted, passphraseFile: join(pki.dir, 'pass.txt') }))).identity).toBe(VALID_USER);
    const e = await failure(loadCredentials(files({ key: encrypted, passphraseFile: join(pki.dir, 'wrong-pass.txt') })));
    expect(formatError(e)).toMatch(/cannot decrypt client key .*\(check the passphrase\)/);
    const missing = await failure(loadCredentials(files({ key: encrypted, passphraseFile: join(pki.dir, 'nope.txt') })));
    expect(missing.code).toBe(ErrorCodes.FILE);
    expect(formatError(missing)).toMatch(/cannot read the passphrase file .*nope\.txt: ENOENT/);
  });

  it.each([
    ['certificate', { cert: '/nonexistent/client.crt' }, /cannot read certificate \/nonexistent\/client\.crt: ENOENT: no such file or directory/],
    ['key', { key: '/nonexistent/client.key' }, /cannot read client key \/nonexistent\/client\.key: ENOENT/],
    ['CA', { ca: '/nonexistent/ca.crt' }, /cannot read CA certificate \/nonexistent\/ca\.crt: ENOENT/],
  ])('names a missing %s file', async (_what, over, message) => {
    const e = await failure(loadCredentials(files(over)));
    expect(e.code).toBe(ErrorCodes.FILE);
    expect(formatError(e)).toMatch(message);
  });

  it('does not read the CA with insecure', async () => {
    const c = await loadCredentials({ ...files({ ca: '/nonexistent/ca.crt' }), insecure: true });
    expect(c.ca).toBeUndefined();
  });

  it('refuses an expired or not yet valid client certificate before connecting', async () => {
    const expired = await failure(loadCredentials(files(pki.expired)));
    expect(expired.code).toBe(ErrorCodes.CERT_INVALID);
    expect(formatError(expired)).toMatch(/the client certificate .*expired\.crt expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d days? ago\) \(make a new one from the server's CA: qtstatus certs client valid_user@qt-test\.com\)/);
    const early = await failure(loadCredentials(files(), new Date(Date.now() - 10 * 86_400_000)));
    expect(formatError(early)).toMatch(/the client certificate .*client\.crt is not valid until .* \(in 10 days\) \(check this computer's clock, or wait\)/);
  });

  it('says when in words', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(when(new Date('2026-01-08T12:00:00Z'), now)).toBe('2026-01-08 12:00 UTC (2 days ago)');
    expect(when(new Date('2026-01-10T15:00:00Z'), now)).toBe('2026-01-10 15:00 UTC (in 3 hours)');
  });
});

describe('expiryWarning (issue #12)', () => {
  it('warns within 14 days of notAfter, not before, and names the file and the date', async () => {
    const c = await loadCredentials(files());
    const client = c.client!;
    const notAfter = client.info.notAfter.getTime();
    const at = (daysBefore: number) => new Date(notAfter - daysBefore * 86_400_000);
    expect(CLIENT_EXPIRY_WARNING_DAYS).toBe(14);
    expect(expiryWarning(client, at(14.01))).toBeUndefined();
    expect(expiryWarning(client, at(14))).toBe(`the client certificate ${pki.client.cert} expires ${when(client.info.notAfter, at(14))}`);
    expect(expiryWarning(client, at(3))).toMatch(/expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 3 days\)$/);
    expect(expiryWarning(client, at(30), 31)).toBeDefined();
  });
});
