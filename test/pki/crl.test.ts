// Writing CRLs (issue #12), with OpenSSL as the reference: `openssl crl
// -verify` accepts what makeCrl signs, `openssl verify -crl_check` refuses
// what it revokes, and readCrl (what serve uses) reads it back, as it reads
// CRLs that `openssl ca` makes.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCa, type LoadedCa } from '../../src/pki/ca.ts';
import { makeCrl, normalSerial, parseRevocationReason, readCrl, REVOCATION_REASONS, REVOKE_REASONS } from '../../src/pki/crl.ts';
import type { KeyType } from '../../src/pki/keys.ts';
import { caPathsIn, initCertificates } from '../../src/pki/make.ts';
import { readCertificateFile } from '../../src/pki/read.ts';
import { tempDir } from '../helpers/tls.ts';
import { crlVerifies, openssl, verifyWithCrl } from './peers.ts';

describe.each(['rsa-2048', 'ecdsa-p256'] as KeyType[])('makeCrl with a %s CA', (keyType) => {
  let dir: string;
  let remove: () => Promise<void>;
  let ca: LoadedCa;
  const now = new Date();
  const later = new Date(now.getTime() + 30 * 86_400_000);
  beforeAll(async () => {
    ({ dir, remove } = await tempDir());
    await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['a@example.org', 'b@example.org'], days: 30, caDays: 60, keyType, force: false });
    ca = await loadCa(caPathsIn(dir));
  });
  afterAll(() => remove());

  it('signs a v2 CRL that openssl verifies, with CRL number, authority key id and reasons', async () => {
    const client = await readCertificateFile(join(dir, 'client.crt'));
    // FF01 has its top bit set: its INTEGER needs a leading zero byte to stay positive.
    const crl = await makeCrl({ issuer: ca, number: 7n, thisUpdate: now, nextUpdate: later, entries: [{ serial: client.serialNumber, revokedAt: now, reason: 'keyCompromise' }, { serial: 'ff01', revokedAt: now, reason: 'unspecified' }] });
    const file = join(dir, 'x.crl');
    await writeFile(file, crl.pem);
    expect(crl.pem).toMatch(/^-----BEGIN X509 CRL-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END X509 CRL-----\n$/);
    const v = await crlVerifies(file, join(dir, 'ca.crt'));
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain('verify OK');
    const text = (await openssl('crl', '-in', file, '-noout', '-text')).stdout;
    expect(text).toContain('Version 2 (0x1)');
    expect(text).toMatch(/X509v3 CRL Number: *\n *7\n/);
    expect(text).toMatch(/X509v3 Authority Key Identifier: *\n *([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    expect(text).toContain(`Serial Number: ${normalSerial(client.serialNumber)}`);
    expect(text).toContain('Key Compromise');
    expect(text).toContain('Serial Number: FF01');
    // RFC 5280 §5.3.1: "unspecified" is left out, not written as code 0.
    expect(text.match(/CRL Reason Code/g)).toHaveLength(1);
    expect(crl.list).toMatchObject({ number: 7n, nextUpdateMs: Math.floor(later.getTime() / 1000) * 1000 });
    expect(crl.list.authorityKeyId).toMatch(/^[0-9a-f]{40}$/);
    expect([...crl.list.revoked.keys()]).toEqual([normalSerial(client.serialNumber), 'FF01']);
    expect(crl.list.revoked.get(normalSerial(client.serialNumber))?.reason).toBe('keyCompromise');
  });

  it('makes openssl verify -crl_check refuse the revoked certificate and accept the others', async () => {
    const client = await readCertificateFile(join(dir, 'client.crt'));
    const crl = await makeCrl({ issuer: ca, number: 8n, thisUpdate: now, nextUpdate: later, entries: [{ serial: client.serialNumber, revokedAt: now }] });
    const file = join(dir, 'y.crl');
    await writeFile(file, crl.pem);
    const refused = await verifyWithCrl(join(dir, 'client.crt'), join(dir, 'ca.crt'), file);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('certificate revoked');
    for (const other of ['server.crt', 'b@example.org.crt']) {
      const ok = await verifyWithCrl(join(dir, other), join(dir, 'ca.crt'), file);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    }
  });

  it('leaves the revoked list out when nothing is revoked (RFC 5280 §5.1.2.6)', async () => {
    const crl = await makeCrl({ issuer: ca, number: 1n, thisUpdate: now, nextUpdate: later, entries: [] });
    const file = join(dir, 'empty.crl');
    await writeFile(file, crl.pem);
    expect((await crlVerifies(file, join(dir, 'ca.crt'))).code).toBe(0);
    expect((await openssl('crl', '-in', file, '-noout', '-text')).stdout).toContain('No Revoked Certificates.');
    expect(crl.list.revoked.size).toBe(0);
  });

  it('is refused by readCrl against another CA', async () => {
    const crl = await makeCrl({ issuer: ca, number: 1n, thisUpdate: now, nextUpdate: later, entries: [] });
    const other = await initCertificates({ dir: join(dir, 'other'), hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['a@example.org'], days: 30, caDays: 30, keyType, force: false });
    expect(() => readCrl(crl.der, other.ca.certificate)).toThrow(/signature does not verify/);
    expect(readCrl(Buffer.from(crl.pem), ca.certificate).number).toBe(1n);
  });
});

describe('reading CRLs', () => {
  it('reads the CRL number and key id of a CRL that openssl ca made', async () => {
    const { dir, remove } = await tempDir();
    try {
      await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['a@example.org'], days: 30, caDays: 30, keyType: 'ecdsa-p256', force: false });
      await writeFile(join(dir, 'crl.cnf'), `[ca]\ndefault_ca = qt\n[qt]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\ncrl_extensions = ext\n[ext]\nauthorityKeyIdentifier = keyid:always\n`);
      await writeFile(join(dir, 'index.txt'), '');
      await writeFile(join(dir, 'crlnumber'), '2A\n');
      const ca = ['-config', join(dir, 'crl.cnf'), '-keyfile', join(dir, 'ca.key'), '-cert', join(dir, 'ca.crt')];
      expect((await openssl('ca', ...ca, '-revoke', join(dir, 'client.crt'), '-crl_reason', 'affiliationChanged')).code).toBe(0);
      expect((await openssl('ca', ...ca, '-gencrl', '-out', join(dir, 'o.crl'))).code).toBe(0);
      const cert = await readCertificateFile(join(dir, 'ca.crt'));
      const list = readCrl(await readFile(join(dir, 'o.crl')), cert);
      expect(list.number).toBe(0x2an);
      expect(list.authorityKeyId).toMatch(/^[0-9a-f]{40}$/);
      expect([...list.revoked.values()][0]?.reason).toBe('affiliationChanged');
    } finally {
      await remove();
    }
  });
});

describe('revocation reasons', () => {
  it('takes RFC 5280 names in any spelling, and codes', () => {
    expect(parseRevocationReason('keyCompromise')).toBe('keyCompromise');
    expect(parseRevocationReason('key-compromise')).toBe('keyCompromise');
    expect(parseRevocationReason('KEY_COMPROMISE')).toBe('keyCompromise');
    expect(parseRevocationReason('cessation of operation')).toBe('cessationOfOperation');
    expect(parseRevocationReason('3')).toBe('affiliationChanged');
    expect(REVOCATION_REASONS[3]).toBe('affiliationChanged');
  });

  it('refuses removeFromCRL (delta CRLs only), the unused code 7 and unknown names', () => {
    for (const bad of ['removeFromCRL', '8', '7', '11', 'lost', '']) expect(parseRevocationReason(bad), bad).toBeUndefined();
    expect(REVOKE_REASONS).not.toContain('removeFromCRL');
    expect(REVOKE_REASONS).toHaveLength(9);
  });
});
