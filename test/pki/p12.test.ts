// PKCS#12 bundles: read by OpenSSL (the CLI and Node's), in the legacy
// encryption that macOS and Windows import, and usable for a TLS handshake.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCertificates } from '../../src/pki/make.ts';
import { makePkcs12 } from '../../src/pki/p12.ts';
import { readCertificateAndKey, readCertificateFile } from '../../src/pki/read.ts';
import type { KeyType } from '../../src/pki/keys.ts';
import { openssl, startMtlsServer, tempDir } from '../helpers/tls.ts';

describe.each(['rsa-2048', 'ecdsa-p256'] as KeyType[])('PKCS#12 of a %s client', (keyType) => {
  let dir: string;
  let remove: () => Promise<void>;
  let p12: Buffer;
  const password = 'pässwörd 1';
  beforeAll(async () => {
    ({ dir, remove } = await tempDir());
    await initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['valid_user@qt-test.com'], days: 30, caDays: 30, keyType, force: false });
    const pair = await readCertificateAndKey(join(dir, 'client.crt'), join(dir, 'client.key'));
    p12 = await makePkcs12({ ...pair, chain: [await readCertificateFile(join(dir, 'ca.crt'))], password, friendlyName: 'valid_user@qt-test.com' });
    await writeFile(join(dir, 'client.p12'), p12);
  });
  afterAll(() => remove());

  it('uses 3DES for the key and an SHA-1 MAC, which every importer reads', async () => {
    const r = await openssl('pkcs12', '-in', join(dir, 'client.p12'), '-info', '-noout', '-passin', `pass:${password}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('MAC: sha1, Iteration 2048');
    expect(r.stderr).toContain('Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
    expect(r.stderr.match(/Certificate bag/g)).toHaveLength(2);
  });

  it('holds the client certificate, its friendly name and the matching key', async () => {
    const r = await openssl('pkcs12', '-in', join(dir, 'client.p12'), '-nodes', '-passin', `pass:${password}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('friendlyName: valid_user@qt-test.com');
    expect(r.stdout).toContain('subject=CN = valid_user@qt-test.com');
    expect(r.stdout).toContain('-----BEGIN PRIVATE KEY-----');
    const wrong = await openssl('pkcs12', '-in', join(dir, 'client.p12'), '-nodes', '-passin', 'pass:wrong');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/mac verify (failure|error)/i);
  });

  it('authenticates a Node TLS client to a server that requires client certificates', async () => {
    const server = await startMtlsServer(dir);
    try {
      const ca = await readCertificateFile(join(dir, 'ca.crt'));
      const body = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', secureContext: createSecureContext({ pfx: p12, passphrase: password, ca: ca.toString() }) }, () => {
          socket.write('GET / HTTP/1.0\r\nHost: localhost\r\n\r\n');
        });
        let data = '';
        socket.setEncoding('utf8').on('data', (d: string) => (data += d));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(body).toContain('"cn":"valid_user@qt-test.com"');
    } finally {
      await server.close();
    }
  });
});
