// Bad input to certs init/client/server: a clear error naming the file or
// flag, and nothing written or changed.
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { certificateInfo } from '../../src/pki/inspect.ts';
import { makeClient, makeServer } from '../../src/pki/make.ts';
import { fileBaseName, fileNameProblem, parseHost } from '../../src/pki/names.ts';
import { caScratch } from './scratch.ts';

const scratch = caScratch();

const { fresh, init } = scratch;

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
      // The facts; the advice that names --force is src/cli/hints.ts's (test/cli/hints.test.ts).
      reason: 'file_exists',
      setting: 'force',
      facts: expect.objectContaining({ written: [] }),
      hint: undefined,
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
      reason: 'identity_not_email',
      setting: 'allowNonEmail',
      value: 'not_an_email',
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
      reason: 'ca_expired',
    });
  });
});

describe('bad flags and places', () => {
  it('refuses non-positive and absurd validities naming the flag', async () => {
    await expect(init(fresh(), { days: 0 })).rejects.toMatchObject({ code: ErrorCodes.USAGE, reason: 'bad_days', setting: 'days', subject: true, message: expect.stringMatching(/^0 is not/) });
    await expect(init(fresh(), { caDays: 40_000 })).rejects.toMatchObject({ code: ErrorCodes.USAGE, reason: 'bad_days', setting: 'caDays', subject: true, message: expect.stringMatching(/^40000 days is more than 100 years/) });
  });

  it('refuses a directory that cannot be made, naming it', async () => {
    const file = join(scratch.root, 'a-file');
    await writeFile(file, 'x');
    await expect(init(join(file, 'certs'))).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `cannot create directory ${join(file, 'certs')}` });
    await expect(init(file)).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `cannot use ${file} as the certificate directory` });
  });

  it('refuses a server certificate without names, and two clients in one file', async () => {
    await expect(makeServer({ dir: fresh(), hosts: [], days: 30, force: false })).rejects.toMatchObject({ code: ErrorCodes.USAGE, reason: 'no_hosts', setting: 'host', subject: true });
    await expect(init(fresh(), { clients: ['a@example.org', 'b@example.org', 'b@example.org'] })).rejects.toMatchObject({
      code: ErrorCodes.USAGE,
      message: 'two certificates would both be written to b@example.org.crt',
    });
  });
});

// Issue #10: `--name ./ca --force` replaced the CA with a leaf, `--name
// ../outside` wrote outside --dir. Names are plain file names, and nothing
// but `certs init` on a directory without a CA writes CA files.
describe('file names never reach the CA or leave the directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fresh();
    await init(dir);
  });

  it.each([
    ['./ca', /is a file name, not a path/],
    ['../outside', /is a file name, not a path/],
    ['sub/leaf', /is a file name, not a path/],
    ['sub\\leaf', /is a file name, not a path/],
    ['.', /starts with "\."/],
    ['..', /starts with "\."/],
    ['.hidden', /starts with "\."/],
    ['-rf', /starts with "-"/],
    ['', /empty/],
    ['a\x00b', /control/],
    ['a\nb', /control/],
    ['a\u202eb', /control/],
    ['x'.repeat(201), /longer than 200/],
    ['ca', /CA's files/],
    ['CA', /CA's files/],
    ['cA', /CA's files/],
  ])('refuses --name %j as a usage error and writes nothing, even with --force', async (name, problem) => {
    const before = await snapshot(dir);
    const around = (await readdir(scratch.root)).sort();
    await expect(makeClient({ dir, identity: 'alice@example.org', name, days: 30, force: true })).rejects.toMatchObject({
      code: ErrorCodes.USAGE,
      message: expect.stringMatching(problem),
      setting: 'name',
      subject: true,
    });
    await expect(makeServer({ dir, hosts: [{ kind: 'dns', value: 'a.test' }], name, days: 30, force: true })).rejects.toMatchObject({ code: ErrorCodes.USAGE });
    expect(await snapshot(dir)).toEqual(before);
    expect((await readdir(scratch.root)).sort()).toEqual(around);
  });

  it('refuses identities and hosts whose files would be the CA\'s, in any case', async () => {
    const before = await snapshot(dir);
    for (const identity of ['ca', 'CA', 'Ca']) {
      await expect(makeClient({ dir, identity, allowNonEmail: true, days: 30, force: true })).rejects.toMatchObject({
        code: ErrorCodes.USAGE,
        message: expect.stringMatching(/CA's files/),
        reason: 'would_be_ca_files',
        setting: 'name',
      });
    }
    await expect(makeServer({ dir, hosts: [{ kind: 'dns', value: 'ca' }], days: 30, force: true })).rejects.toMatchObject({ code: ErrorCodes.USAGE });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('never writes over the CA given with --ca, whatever its file names', async () => {
    const other = fresh();
    await init(other);
    const { rename } = await import('node:fs/promises');
    await rename(join(other, 'ca.crt'), join(other, 'myca.crt'));
    await rename(join(other, 'ca.key'), join(other, 'myca.key'));
    const ca = { certPath: join(other, 'myca.crt'), keyPath: join(other, 'myca.key') };
    const before = await snapshot(other);
    for (const name of ['myca', 'MyCA']) {
      await expect(makeClient({ dir: other, ca, identity: 'alice@example.org', name, days: 30, force: true })).rejects.toMatchObject({
        code: ErrorCodes.USAGE,
        message: expect.stringContaining("would replace the CA's"),
      });
    }
    expect(await snapshot(other)).toEqual(before);
    // Any other name is fine.
    const set = await makeClient({ dir: other, ca, identity: 'alice@example.org', name: 'alice', days: 30, force: false });
    expect(set.made[0]!.certPath).toBe(join(other, 'alice.crt'));
  });

  it('makes every derived name a plain file name in the directory', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (identity) => {
        const base = fileBaseName(identity);
        expect(base.toLowerCase() === 'ca' || fileNameProblem(base) === undefined, JSON.stringify([identity, base])).toBe(true);
      }),
    );
    expect(fileBaseName('-rf@example.org')).toBe('_rf@example.org');
    expect(fileBaseName('../x@y.z')).toBe('__x@y.z');
  });

  it('init never writes over CA files that are there, even as dangling links and with --force', async () => {
    const linked = fresh();
    const { mkdir, readlink, symlink } = await import('node:fs/promises');
    await mkdir(linked, { mode: 0o700 });
    await symlink(join(scratch.root, 'nowhere.crt'), join(linked, 'ca.crt'));
    await symlink(join(scratch.root, 'nowhere.key'), join(linked, 'ca.key'));
    await expect(init(linked, { force: true })).rejects.toMatchObject({ code: ErrorCodes.FILE, message: expect.stringContaining(join(linked, 'ca.crt')) });
    expect(await readlink(join(linked, 'ca.crt'))).toBe(join(scratch.root, 'nowhere.crt'));
    expect(await readlink(join(linked, 'ca.key'))).toBe(join(scratch.root, 'nowhere.key'));
    expect((await readdir(linked)).sort()).toEqual(['ca.crt', 'ca.key']);
  });

  it('init refuses two clients whose files differ only in case (one file on macOS and Windows)', async () => {
    await expect(init(fresh(), { clients: ['a@example.org', 'Bob@example.org', 'bob@example.org'] })).rejects.toMatchObject({
      code: ErrorCodes.USAGE,
      message: expect.stringMatching(/^two certificates would both be written to bob@example\.org\.crt/i),
    });
  });
});

describe('host names for server certificates', () => {
  it.each([
    ['[::1]', { kind: 'ip', value: '::1' }],
    ['0:0::1', { kind: 'ip', value: '::1' }],
    ['::FFFF:1.2.3.4', { kind: 'ip', value: '::ffff:102:304' }],
    ['Status.Example.', { kind: 'dns', value: 'status.example' }],
    ['bücher.example', { kind: 'dns', value: 'xn--bcher-kva.example' }],
    ['*.example.org', { kind: 'dns', value: '*.example.org' }],
    ['123.example', { kind: 'dns', value: '123.example' }],
    ['a'.repeat(63) + '.test', { kind: 'dns', value: 'a'.repeat(63) + '.test' }],
  ])('accepts %j', (input, host) => {
    expect(parseHost(input)).toEqual({ host });
  });

  it.each([
    ['::1%eth0', /"::1%eth0" has a zone id \(%eth0\).*give "::1"/],
    ['fe80::1%1', /zone id/],
    ['[fe80::1%25eth0]', /zone id/],
    ['', /an empty host name/],
    ['   ', /an empty host name/],
    ['a..b', /an empty label/],
    ['.a', /an empty label/],
    ['-x', /starts or ends with "-"/],
    ['x-.example', /starts or ends with "-"/],
    ['1.2.3.4.5', /not a valid IPv4 address/],
    ['300.1.1.1', /not a valid IPv4 address/],
    ['host:443', /a port \(443\).*give "host"/],
    ['1.2.3.4:80', /a port \(80\).*give "1\.2\.3\.4"/],
    ['[::1]:443', /a port \(443\).*give "::1"/],
    ['::1::2', /not a valid IPv6 address/],
    ['[foo]', /brackets/],
    ['a'.repeat(64) + '.test', /a label of 64 characters \(at most 63\)/],
    [Array(130).fill('ab').join('.'), /389 characters \(at most 253\)/],
    ['x_y.test', /"_"/],
    ['a b', /" "/],
    ['0x7f.1', /ends in a number/],
    ['a.123', /ends in a number/],
    ['*', /wildcard/],
    ['*.com', /a wildcard needs at least two labels/],
    ['a.*.com', /"\*"/],
    ['a/b', /"\/"/],
  ])('refuses %j with the reason', (input, problem) => {
    const r = parseHost(input);
    expect(r).toHaveProperty('problem');
    expect((r as { problem: string }).problem).toMatch(problem);
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.ipV6().map((a) => `${a}%${'eth0'}`), fc.domain(), fc.ipV4Extended()), (input) => {
        const r = parseHost(input);
        expect('host' in r || 'problem' in r).toBe(true);
      }),
    );
  });
});
