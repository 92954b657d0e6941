// The certificate profile, checked with OpenSSL as the reference.
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateInfo } from '../../src/pki/inspect.ts';
import { initCertificates, makeClient, makeServer, type MadeSet } from '../../src/pki/make.ts';
import type { KeyType } from '../../src/pki/keys.ts';
import { openssl, tempDir } from '../helpers/tls.ts';

const hosts = [
  { kind: 'dns', value: 'localhost' },
  { kind: 'ip', value: '127.0.0.1' },
  { kind: 'ip', value: '::1' },
] as const;

async function text(file: string): Promise<string> {
  const r = await openssl('x509', '-in', file, '-noout', '-text');
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe.each(['rsa-2048', 'ecdsa-p256'] as KeyType[])('certs init with %s', (keyType) => {
  let dir: string;
  let remove: () => Promise<void>;
  let set: MadeSet;
  const started = Date.now();
  beforeAll(async () => {
    ({ dir, remove } = await tempDir());
    set = await initCertificates({ dir: join(dir, 'certs'), hosts: [...hosts], clients: ['valid_user@qt-test.com'], days: 365, caDays: 3650, keyType, force: false });
  });
  afterAll(() => remove());
  const path = (name: string) => join(dir, 'certs', name);
  const rsa = keyType.startsWith('rsa');

  it('writes the old system\'s file names, keys 0600 in a 0700 directory', async () => {
    expect(set.made.map((m) => m.certPath)).toEqual([path('server.crt'), path('client.crt')]);
    expect((await stat(join(dir, 'certs'))).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key', 'server.key', 'client.key']) expect((await stat(path(key))).mode & 0o777).toBe(0o600);
    for (const crt of ['ca.crt', 'server.crt', 'client.crt']) expect((await stat(path(crt))).mode & 0o777).toBe(0o644);
    expect(await readFile(path('server.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('passes openssl verify -auth_level 2 for every leaf', async () => {
    const r = await openssl('verify', '-CAfile', path('ca.crt'), '-auth_level', '2', path('server.crt'), path('client.crt'));
    expect(r.stdout).toContain(`${path('server.crt')}: OK`);
    expect(r.stdout).toContain(`${path('client.crt')}: OK`);
    expect(r.code).toBe(0);
  });

  it('makes a CA with critical basicConstraints pathlen 0, critical keyCertSign and cRLSign, a key id', async () => {
    const t = await text(path('ca.crt'));
    expect(t).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(t).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(t).toMatch(/Subject Key Identifier:\s+[0-9A-F:]{59}/);
    expect(t).toContain(rsa ? 'Signature Algorithm: sha256WithRSAEncryption' : 'Signature Algorithm: ecdsa-with-SHA256');
    const info = certificateInfo(set.ca.certificate);
    expect(info.selfSigned).toBe(true);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThanOrEqual(3650 * 86_400_000);
  });

  it('makes a server certificate for DNS and IP names with serverAuth', async () => {
    const t = await text(path('server.crt'));
    expect(t).toMatch(/Subject: CN ?= ?localhost\n/);
    expect(t).toMatch(/Extended Key Usage: \s+TLS Web Server Authentication\n/);
    expect(t).toContain('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(t).toMatch(rsa ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\s+Digital Signature\n/);
    expect(t).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
  });

  it('makes a client certificate with CN and rfc822Name the email, clientAuth', async () => {
    const t = await text(path('client.crt'));
    expect(t).toMatch(/Subject: CN ?= ?valid_user@qt-test.com\n/);
    expect(t).toMatch(/Subject Alternative Name: \s+email:valid_user@qt-test.com\n/);
    expect(t).toMatch(/Extended Key Usage: \s+TLS Web Client Authentication\n/);
  });

  it('gives every leaf a key id, the CA\'s key id as authority, a random 128+ bit serial, SHA-256, a skewed start', async () => {
    const ca = certificateInfo(set.ca.certificate);
    const serials = new Set<string>();
    for (const m of set.made) {
      const info = certificateInfo(m.certificate);
      expect(info.authorityKeyId).toBe(ca.subjectKeyId);
      expect(info.subjectKeyId).toMatch(/^[0-9a-f]{40}$/);
      expect(info.subjectKeyId).not.toBe(ca.subjectKeyId);
      expect(info.serialBits).toBeGreaterThanOrEqual(128);
      expect(m.certificate.serialNumber).toMatch(/^[0-7]/); // positive
      serials.add(info.serial);
      expect(info.signatureAlgorithm).toMatch(/SHA256/i);
      expect(info.notBefore.getTime()).toBeLessThan(started - 60_000);
      expect(info.notBefore.getTime()).toBeGreaterThan(started - 3_600_000);
      expect(Math.round((info.notAfter.getTime() - started) / 86_400_000)).toBe(365);
      expect(info.key.label).toBe(rsa ? 'RSA 2048' : 'ECDSA P-256');
    }
    expect(serials.size).toBe(2);
  });
});

describe('other key types and CAs', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await tempDir()));
  afterAll(() => remove());

  it('signs leaves from a CA made by openssl, as the old system\'s script did', async () => {
    const key = join(dir, 'ca.key');
    const r = await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', join(dir, 'ca.crt'), '-days', '30', '-subj', '/C=DE/O=Old System/CN=Old CA', '-sha256');
    expect(r.code, r.stderr).toBe(0);
    const set = await makeClient({ dir, identity: 'valid_user@qt-test.com', name: 'client', days: 365, force: false });
    expect(set.warnings.join()).toMatch(/shortened to the CA's expiry/);
    const v = await openssl('verify', '-CAfile', join(dir, 'ca.crt'), '-auth_level', '2', join(dir, 'client.crt'));
    expect(v.stdout).toContain(': OK');
    expect(certificateInfo(set.made[0]!.certificate).issuer).toBe('C=DE, O=Old System, CN=Old CA');
  });

  it('makes RSA-3072 and RSA-4096 keys that openssl accepts', async () => {
    for (const keyType of ['rsa-3072', 'rsa-4096'] as const) {
      const set = await makeServer({ dir, hosts: [{ kind: 'dns', value: `${keyType}.test` }], days: 30, keyType, force: false });
      const cert = new X509Certificate(await readFile(join(dir, `${keyType}.test.crt`)));
      expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(keyType.slice(4)));
      expect(set.made[0]!.keyPath).toBe(join(dir, `${keyType}.test.key`));
      const v = await openssl('verify', '-CAfile', join(dir, 'ca.crt'), '-auth_level', '2', join(dir, `${keyType}.test.crt`));
      expect(v.stdout).toContain(': OK');
    }
  });
});
