// The server's TLS files are read at once; a failure names the same file
// every time, in a fixed order (certificate and key, CA, CRL), whichever
// read fails first (the .deb test once saw the CA named instead of the
// certificate, by chance).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../src/server/tls-files.ts';
import { makeTestPki } from '../helpers/pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-tls-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadTlsMaterial', () => {
  it('names the first missing file in order: certificate, then CA, then CRL', async () => {
    const missing = (name: string) => join(dir, name);
    for (let i = 0; i < 20; i++) {
      await expect(loadTlsMaterial({ cert: missing('server.crt'), key: missing('server.key'), ca: missing('ca.crt'), crl: missing('ca.crl') })).rejects.toMatchObject({ path: missing('server.crt') });
    }
    const pki = await makeTestPki();
    try {
      await expect(loadTlsMaterial({ ...pki.server, ca: missing('ca.crt'), crl: missing('ca.crl') })).rejects.toMatchObject({ message: expect.stringContaining(missing('ca.crt')) });
      await expect(loadTlsMaterial({ ...pki.server, ca: pki.ca, crl: missing('ca.crl') })).rejects.toMatchObject({ reason: 'crl_unreadable', path: missing('ca.crl') });
      await expect(loadTlsMaterial({ ...pki.server, ca: pki.ca })).resolves.toMatchObject({ revocation: undefined });
    } finally {
      pki.remove();
    }
  });
});
