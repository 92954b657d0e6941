// Bad input to certs init/client/server: a clear error naming the file or
// flag, and nothing written or changed.
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { certificateInfo } from '../../src/pki/inspect.ts';
import { initCertificates, makeClient, makeServer, type InitOptions } from '../../src/pki/make.ts';
import { tempDir } from '../helpers/tls.ts';

let root: string;
let remove: () => Promise<void>;
let n = 0;
beforeAll(async () => ({ dir: root, remove } = await tempDir()));
afterAll(() => remove());

const fresh = () => join(root, `d${n++}`);
const init = (dir: string, more: Partial<InitOptions> = {}) =>
  initCertificates({ dir, hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['valid_user@qt-test.com'], days: 365, caDays: 3650, keyType: 'ecdsa-p256', force: false, ...more });

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), 'latin1');
  return out;
}

describe('an existing set', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fresh();
    await init(dir);
  });

  it('is never overwritten without force: the error names the files and nothing changes', async () => {
    const before = await snapshot(dir);
    await expect(init(dir)).rejects.toMatchObject({
      code: ErrorCodes.FILE,
      message: `${join(dir, 'server.crt')}, ${join(dir, 'server.key')}, ${join(dir, 'client.crt')}, ${join(dir, 'client.key')} already exist`,
      hint: expect.stringMatching(/nothing was written; use --force/),
    });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('keeps its CA with force and replaces only the leaves', async () => {
    const before = await snapshot(dir);
    const set = await init(dir, { force: true, keyType: 'rsa-2048' });
    const after = await snapshot(dir);
    expect(set.ca.reused).toBe(true);
    expect(after['ca.crt']).toBe(before['ca.crt']);
    expect(after['ca.key']).toBe(before['ca.key']);
    expect(after['server.crt']).not.toBe(before['server.crt']);
    expect(Object.keys(after)).toEqual(Object.keys(before)); // no temporary files left
  });

  it('gives new leaves the CA key\'s type unless asked otherwise', async () => {
    const set = await makeClient({ dir, identity: 'alice@example.org', days: 30, force: false });
    expect(set.made[0]!.certPath).toBe(join(dir, 'alice@example.org.crt'));
    expect(certificateInfo(set.made[0]!.certificate).key.label).toBe('ECDSA P-256');
  });

  it('refuses a client that is not an email unless allowed, then warns and leaves out the rfc822Name', async () => {
    await expect(makeClient({ dir, identity: 'not_an_email', days: 30, force: false })).rejects.toMatchObject({
      code: ErrorCodes.USAGE,
      message: expect.stringContaining('"not_an_email" is not an email address'),
      hint: expect.stringContaining('--allow-non-email'),
    });
    const set = await makeClient({ dir, identity: 'not_an_email', allowNonEmail: true, name: 'bad_client', days: 30, force: false });
    expect(set.warnings.join()).toContain('bad_client.crt has CN=not_an_email, not an email address');
    const info = certificateInfo(set.made[0]!.certificate);
    expect(info.subject).toBe('CN=not_an_email');
    expect(info.names.email).toEqual([]);
  });
});

describe('a broken CA', () => {
  it('with ca.key missing: names both files, writes nothing', async () => {
    const dir = fresh();
    await init(dir);
    const other = fresh();
    await init(other);
    const lonely = fresh();
    await init(lonely, { clients: ['x@example.org'] });
    const { rm } = await import('node:fs/promises');
    await rm(join(lonely, 'ca.key'));
    const before = await snapshot(lonely);
    await expect(init(lonely, { force: true })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `${join(lonely, 'ca.key')} is missing beside ${join(lonely, 'ca.crt')}`,
    });
    expect(await snapshot(lonely)).toEqual(before);

    // A CA key from another CA.
    await copyFile(join(other, 'ca.key'), join(lonely, 'ca.key'));
    await expect(makeClient({ dir: lonely, identity: 'bob@example.org', days: 30, force: false })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `CA key ${join(lonely, 'ca.key')} does not belong to ${join(lonely, 'ca.crt')}`,
    });

    // A corrupt CA certificate.
    await writeFile(join(lonely, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    await expect(makeClient({ dir: lonely, identity: 'bob@example.org', days: 30, force: false })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `${join(lonely, 'ca.crt')}: certificate 1 is corrupt`,
    });

    // A leaf given as the CA.
    await expect(
      makeServer({ dir: lonely, ca: { certPath: join(dir, 'server.crt'), keyPath: join(dir, 'server.key') }, hosts: [{ kind: 'dns', value: 'a.test' }], days: 30, force: false }),
    ).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `${join(dir, 'server.crt')} is not a CA certificate` });
    expect(await readdir(lonely)).not.toContain('bob@example.org.crt');
  });

  it('that expired: refused with what to do', async () => {
    const dir = fresh();
    await init(dir, { caDays: 1 });
    await expect(makeClient({ dir, identity: 'bob@example.org', days: 30, force: false, now: new Date(Date.now() + 3 * 86_400_000) })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: expect.stringMatching(/^CA certificate .*ca\.crt expired on /),
      hint: expect.stringContaining('make a new CA'),
    });
  });
});

describe('bad flags and places', () => {
  it('refuses non-positive and absurd validities naming the flag', async () => {
    await expect(init(fresh(), { days: 0 })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringMatching(/^--days: 0 is not/) });
    await expect(init(fresh(), { caDays: 40_000 })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringMatching(/^--ca-days: 40000 days is more than 100 years/) });
  });

  it('refuses a directory that cannot be made, naming it', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    await expect(init(join(file, 'certs'))).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `cannot create directory ${join(file, 'certs')}` });
    await expect(init(file)).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `cannot use ${file} as the certificate directory` });
  });

  it('refuses a server certificate without names, and two clients in one file', async () => {
    await expect(makeServer({ dir: fresh(), hosts: [], days: 30, force: false })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringMatching(/^--host/) });
    await expect(init(fresh(), { clients: ['a@example.org', 'b@example.org', 'b@example.org'] })).rejects.toMatchObject({
      code: ErrorCodes.USAGE,
      message: 'two certificates would both be written to b@example.org.crt',
    });
  });
});
