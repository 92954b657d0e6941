// Reading files (what the server and client load), inspection and verification.
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { certificateInfo } from '../../src/pki/inspect.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { initCertificates, makeClient } from '../../src/pki/make.ts';
import { keyMatchesCertificate, readCertificateAndKey, readCertificateFile, readPrivateKeyFile } from '../../src/pki/read.ts';
import { verifyCertificate } from '../../src/pki/verify.ts';
import { openssl, tempDir } from '../helpers/tls.ts';

let dir: string;
let remove: () => Promise<void>;
const f = (name: string) => join(dir, name);
beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }, { kind: 'ip', value: '127.0.0.1' }, { kind: 'ip', value: '::1' }], clients: ['valid_user@qt-test.com'], days: 365, caDays: 3650, keyType: 'ecdsa-p256', force: false });
});
afterAll(() => remove());

describe('reading files', () => {
  it('reads a certificate and its key, PEM or DER, and checks they match', async () => {
    const pair = await readCertificateAndKey(f('client.crt'), f('client.key'));
    expect(certificateInfo(pair.certificate).commonName).toBe('valid_user@qt-test.com');
    const der = pair.certificate.raw;
    await writeFile(f('client.der'), der);
    expect((await readCertificateFile(f('client.der'))).fingerprint256).toBe(pair.certificate.fingerprint256);
    const server = await readCertificateFile(f('server.crt'));
    expect(keyMatchesCertificate(server, pair.privateKey)).toBe(false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(keyMatchesCertificate(server, rsa)).toBe(false);
    await expect(readCertificateAndKey(f('server.crt'), f('client.key'))).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `key ${f('client.key')} does not belong to ${f('server.crt')}`,
    });
  });

  it('says which file is missing, swapped or corrupt', async () => {
    await expect(readCertificateFile(f('nope.crt'))).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `cannot read certificate ${f('nope.crt')}`, cause: { code: 'ENOENT' } });
    await expect(readCertificateFile(f('client.key'))).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `${f('client.key')} holds a private key, not a certificate` });
    await expect(readPrivateKeyFile(f('client.crt'))).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `${f('client.crt')} holds a certificate, not a private key` });
    await writeFile(f('junk.crt'), 'hello');
    await expect(readCertificateFile(f('junk.crt'))).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `${f('junk.crt')} is not a PEM or DER certificate` });
    await writeFile(f('junk.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await expect(readPrivateKeyFile(f('junk.key'))).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `private key ${f('junk.key')} is corrupt` });
  });

  it('detects an encrypted key and reads it with its passphrase', async () => {
    const key = createPrivateKey(await readFile(f('client.key')));
    await writeFile(f('enc.key'), key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'sesame' }));
    await expect(readPrivateKeyFile(f('enc.key'))).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `private key ${f('enc.key')} is encrypted` });
    await expect(readPrivateKeyFile(f('enc.key'), { passphrase: 'wrong' })).rejects.toMatchObject({ message: `cannot decrypt private key ${f('enc.key')}` });
    const read = await readPrivateKeyFile(f('enc.key'), { passphrase: 'sesame' });
    expect(keyMatchesCertificate(await readCertificateFile(f('client.crt')), read)).toBe(true);
  });
});

describe('verifyCertificate', () => {
  let ca: X509Certificate;
  let server: X509Certificate;
  let client: X509Certificate;
  beforeAll(async () => {
    [ca, server, client] = await Promise.all([readCertificateFile(f('ca.crt')), readCertificateFile(f('server.crt')), readCertificateFile(f('client.crt'))]);
  });
  const failed = (r: ReturnType<typeof verifyCertificate>) => r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

  it('accepts the server for each of its names and the client for its address', () => {
    for (const host of ['localhost', '127.0.0.1', '::1', '[::1]']) expect(failed(verifyCertificate(server, [ca], { host }))).toEqual([]);
    const r = verifyCertificate(client, [ca], { email: 'valid_user@qt-test.com' });
    expect(r).toMatchObject({ valid: true, role: 'client' });
    expect(r.checks.map((c) => c.name)).toEqual(['chain', 'ca', 'validity', 'strength', 'usage', 'names']);
    expect(verifyCertificate(client, [ca])).toMatchObject({ valid: true, role: 'client' });
  });

  it('gives the precise reason for a wrong name, role or address', () => {
    expect(failed(verifyCertificate(server, [ca], { host: 'example.com' }))).toEqual(['names: example.com is not among its names (DNS:localhost, IP:127.0.0.1, IP:::1)']);
    expect(failed(verifyCertificate(client, [ca], { host: 'localhost' }))[0]).toBe(
      'usage: its extended key usage is clientAuth, without serverAuth: TLS peers refuse it as a server certificate',
    );
    expect(failed(verifyCertificate(client, [ca], { email: 'x@example.org' }))).toEqual([
      'names: it identifies CN=valid_user@qt-test.com (email:valid_user@qt-test.com), not x@example.org',
    ]);
    expect(failed(verifyCertificate(ca, [ca], { host: 'localhost' }))[0]).toBe('usage: it is a CA certificate, not a server certificate');
  });

  it('refuses a client whose CN is not an email: the server answers 400', async () => {
    const set = await makeClient({ dir, identity: 'not_an_email', allowNonEmail: true, name: 'bad_client', days: 30, force: false });
    expect(failed(verifyCertificate(set.made[0]!.certificate, [ca]))).toEqual(['names: its CN "not_an_email" is not an email address: the server answers 400 to it']);
  });

  it('tells an expired or not yet valid certificate by its dates', () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    expect(failed(verifyCertificate(server, [ca], { now: later }))[0]).toMatch(/^validity: it expired on \d{4}-.* \(3[4-6] days ago\)$/);
    const earlier = new Date(Date.now() - 86_400_000);
    expect(failed(verifyCertificate(server, [ca], { now: earlier })).join('\n')).toMatch(/validity: it is not valid before .* \(check the clock/);
  });

  it('tells another CA by name, and one with the same name by its key id', async () => {
    const other = await initCertificates({ dir: f('other'), hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['a@example.org'], days: 30, caDays: 30, keyType: 'ecdsa-p256', force: false });
    expect(failed(verifyCertificate(server, [other.ca.certificate]))[0]).toMatch(/^chain: issued by "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}", but the CA file holds "O=qtstatus, CN=qtstatus CA [0-9a-f]{8}"$/);
    // A CA with the very same name but another key: "an authority key id that points nowhere".
    const { generateKeyPair } = await import('../../src/pki/keys.ts');
    const key = await generateKeyPair('ecdsa-p256');
    const twin = await issueCertificate({ role: 'ca', publicKey: key.publicKey, selfKey: key.privateKey, commonName: certificateInfo(ca).commonName!, days: 30 });
    expect(failed(verifyCertificate(server, [twin.certificate]))[0]).toMatch(
      /^chain: its authority key identifier [0-9a-f]{40} does not match the CA's subject key identifier [0-9a-f]{40} \(another CA with the same name\?\)$/,
    );
    // With both CAs in the file, the right one is found.
    expect(verifyCertificate(server, [twin.certificate, ca], { host: 'localhost' }).valid).toBe(true);
  });

  it('refuses SHA-1 signatures as OpenSSL does', async () => {
    const r = await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha1', '-keyout', f('sha1.key'), '-out', f('sha1.crt'), '-days', '30', '-subj', '/CN=old.test', '-addext', 'subjectAltName=DNS:old.test');
    expect(r.code, r.stderr).toBe(0);
    const old = await readCertificateFile(f('sha1.crt'));
    expect(failed(verifyCertificate(old, [old], { role: 'server' })).join('\n')).toContain('strength: it is signed with sha1WithRSAEncryption, which OpenSSL (security level 2) and browsers refuse');
  });
});
