// Bundles and expiry checks (issue #12): a bundle holds exactly what one
// side needs and never the CA key; checkExpiry says what expires when.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { writeBundle } from '../../src/pki/bundle.ts';
import { checkExpiry, fileExpiryDates } from '../../src/pki/expiry.ts';
import { caPathsIn, makeClient } from '../../src/pki/make.ts';
import { readCertificateFile } from '../../src/pki/read.ts';
import { reissueCrl } from '../../src/pki/revoke.ts';
import { caScratch } from './scratch.ts';
import { crlVerifies } from './peers.ts';

const scratch = caScratch();

const DAY = 86_400_000;
const { fresh, init } = scratch;

describe('writeBundle', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fresh();
    await init(dir);
  });

  it('server: its certificate and key, ca.crt and ca.crl, under the usual names, and never the CA key', async () => {
    const out = join(scratch.root, 'server-bundle');
    const b = await writeBundle({ role: 'server', ca: caPathsIn(dir), certPath: join(dir, 'server.crt'), out, force: false });
    expect((await readdir(out)).sort()).toEqual(['ca.crl', 'ca.crt', 'server.crt', 'server.key']);
    expect(b.crlIssued).toBe(false);
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    expect((await stat(join(out, 'server.key'))).mode & 0o777).toBe(0o600);
    const caKey = await readFile(join(dir, 'ca.key'), 'utf8');
    for (const f of await readdir(out)) expect(await readFile(join(out, f), 'utf8')).not.toBe(caKey);
    expect(await readFile(join(out, 'ca.crl'))).toEqual(await readFile(join(dir, 'ca.crl')));
    expect((await crlVerifies(join(out, 'ca.crl'), join(out, 'ca.crt'))).code).toBe(0);
    await expect(writeBundle({ role: 'server', ca: caPathsIn(dir), certPath: join(dir, 'server.crt'), out, force: false })).rejects.toMatchObject({ code: ErrorCodes.FILE, message: expect.stringContaining('already exist') });
  });

  it('client: another client by --cert; a CRL is issued first when there is none', async () => {
    await makeClient({ dir, identity: 'alice@example.org', days: 30, force: false });
    await rm(join(dir, 'ca.crl'));
    const out = join(scratch.root, 'alice');
    const b = await writeBundle({ role: 'client', ca: caPathsIn(dir), certPath: join(dir, 'alice@example.org.crt'), out, force: false });
    expect(b.crlIssued).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['alice@example.org.crt', 'alice@example.org.key', 'ca.crl', 'ca.crt']);
    expect((await crlVerifies(join(dir, 'ca.crl'), join(dir, 'ca.crt'))).code).toBe(0);
  });

  it('refuses the CA\'s directory, the wrong side, the CA itself and another CA\'s certificate', async () => {
    const other = fresh();
    await init(other);
    const base = { ca: caPathsIn(dir), force: true };
    await expect(writeBundle({ ...base, role: 'server', certPath: join(dir, 'server.crt'), out: dir })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: `${dir} is the CA's directory` });
    await expect(writeBundle({ ...base, role: 'client', certPath: join(dir, 'server.crt'), out: join(scratch.root, 'x') })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: `${join(dir, 'server.crt')} is not a client certificate` });
    await expect(writeBundle({ ...base, role: 'server', certPath: join(dir, 'ca.crt'), out: join(scratch.root, 'x') })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringContaining("is the CA's own certificate or key") });
    await expect(writeBundle({ ...base, role: 'client', certPath: join(other, 'client.crt'), out: join(scratch.root, 'x') })).rejects.toMatchObject({ code: ErrorCodes.CERT, message: expect.stringContaining('was not issued by the CA') });
    await expect(stat(join(scratch.root, 'x'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('checkExpiry', () => {
  it('says what expires within the time: certificates in use, the CA, the CRL', async () => {
    const dir = fresh();
    await init(dir, { caDays: 100 });
    await makeClient({ dir, identity: 'soon@example.org', days: 10, force: false });
    await reissueCrl({ ca: caPathsIn(dir), periodSeconds: 20 * 86_400 });
    const month = await checkExpiry(join(dir, 'ca.crt'), 30 * DAY);
    expect(month.due.map((i) => [i.kind, i.what])).toEqual([
      ['certificate', 'soon@example.org'],
      ['crl', 'the CRL (number 2)'],
    ]);
    expect(month.due[0]?.daysLeft).toBe(9);
    expect(month.items.map((i) => i.kind)).toEqual(['certificate', 'certificate', 'certificate', 'ca', 'crl']);
    const quarter = await checkExpiry(join(dir, 'ca.crt'), 120 * DAY);
    // The CA (100 days) too, and with it the leaves of a year: they end with the CA.
    expect(quarter.due.map((i) => i.kind)).toEqual(['certificate', 'certificate', 'certificate', 'ca', 'crl']);
    expect(new Set(quarter.due.filter((i) => i.kind !== 'crl' && i.what !== 'soon@example.org').map((i) => i.daysLeft)).size).toBe(1);
    expect((await checkExpiry(join(dir, 'ca.crt'), 5 * DAY)).due).toEqual([]);
  });

  it('without a record or CRL: checks what it finds and says what it could not', async () => {
    const dir = fresh();
    await init(dir);
    await rm(join(dir, 'ca-index.json'));
    await rm(join(dir, 'ca.crl'));
    const r = await checkExpiry(join(dir, 'ca.crt'), 400 * DAY);
    expect(r.due.map((i) => [i.kind, i.recorded])).toEqual([
      ['certificate', false],
      ['certificate', false],
    ]);
    expect(r.notes.join('\n')).toMatch(/ca-index\.json does not exist.*\n.*ca\.crl does not exist/);
  });

  it('fileExpiryDates: the dates serve needs for its gauges', async () => {
    const dir = fresh();
    await init(dir);
    const d = await fileExpiryDates({ cert: join(dir, 'server.crt'), ca: join(dir, 'ca.crt'), crl: join(dir, 'ca.crl') });
    expect(d.cert).toEqual((await readCertificateFile(join(dir, 'server.crt'))).validToDate);
    expect(d.ca).toEqual((await readCertificateFile(join(dir, 'ca.crt'))).validToDate);
    expect(Math.round((d.crl!.getTime() - Date.now()) / DAY)).toBe(90);
    await expect(fileExpiryDates({ crl: join(dir, 'ca.crt') })).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `cannot use the CRL ${join(dir, 'ca.crt')}` });
  });
});
