// The record of issued certificates and revocation (issue #12): every
// certificate qtstatus makes is recorded, atomically and without losing
// concurrent runs; revoking writes the record and a CRL together; bad input
// names the file and writes nothing.
import { copyFile, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { readCrl } from '../../src/pki/crl.ts';
import { withLock } from '../../src/pki/files.ts';
import { listIssued } from '../../src/pki/list.ts';
import { caPathsIn, makeClient, makeServer } from '../../src/pki/make.ts';
import { readCertificateFile } from '../../src/pki/read.ts';
import { parseRecord, readRecord, RECORD_FILE } from '../../src/pki/record.ts';
import { reissueCrl, revokeCertificates } from '../../src/pki/revoke.ts';
import { caScratch } from './scratch.ts';
import { crlVerifies, openssl, verifyWithCrl } from './peers.ts';

const scratch = caScratch();

const { fresh, init } = scratch;
const record = async (dir: string) => parseRecord(await readFile(join(dir, RECORD_FILE), 'utf8'), RECORD_FILE);
const serialOf = async (file: string) => (await readCertificateFile(file)).serialNumber.replace(/^0+/, '');

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), 'latin1');
  return out;
}

describe('the record', () => {
  it('holds every certificate init, client and server make, with its files and validity', async () => {
    const dir = fresh();
    const set = await init(dir);
    expect(set.record).toBe(join(dir, RECORD_FILE));
    expect(set.crl).toBe(join(dir, 'ca.crl'));
    await makeClient({ dir, identity: 'alice@example.org', days: 30, force: false });
    await makeServer({ dir, hosts: [{ kind: 'dns', value: 'status.internal' }, { kind: 'ip', value: '10.0.0.5' }], days: 90, force: false });
    const r = await record(dir);
    expect(r.ca.subject).toMatch(/^O=qtstatus, CN=qtstatus CA [0-9a-f]{8}$/);
    expect(r.crl.number).toBe(1);
    expect(r.certificates.map((c) => [c.role, c.identity, c.cert, c.key, c.source])).toEqual([
      ['server', 'localhost', 'server.crt', 'server.key', 'issued'],
      ['client', 'valid_user@qt-test.com', 'client.crt', 'client.key', 'issued'],
      ['client', 'alice@example.org', 'alice@example.org.crt', 'alice@example.org.key', 'issued'],
      ['server', 'status.internal', 'status.internal.crt', 'status.internal.key', 'issued'],
    ]);
    const alice = r.certificates[2]!;
    expect(alice.serial).toBe(await serialOf(join(dir, 'alice@example.org.crt')));
    expect(alice.names).toEqual({ dns: [], ip: [], email: ['alice@example.org'] });
    expect(new Date(alice.notAfter).getTime() - new Date(alice.notBefore).getTime()).toBe(30 * 86_400_000 + 5 * 60_000);
    expect(r.certificates[3]!.names).toEqual({ dns: ['status.internal'], ip: ['10.0.0.5'], email: [] });
    // The first CRL of a new CA: empty, signed, verifiable.
    expect((await crlVerifies(join(dir, 'ca.crl'), join(dir, 'ca.crt'))).code).toBe(0);
  });

  it('marks a certificate replaced when init --force writes over its file', async () => {
    const dir = fresh();
    await init(dir);
    const before = await serialOf(join(dir, 'client.crt'));
    await init(dir, { force: true });
    const r = await record(dir);
    const after = await serialOf(join(dir, 'client.crt'));
    expect(r.certificates.find((c) => c.serial === before)?.replacedBy).toBe(after);
    expect(r.certificates.find((c) => c.serial === after)?.replacedBy).toBeUndefined();
    expect(r.certificates).toHaveLength(4);
  });

  it('loses none of eight certificates made at once (the lock)', async () => {
    const dir = fresh();
    await init(dir);
    await Promise.all(Array.from({ length: 8 }, (_, i) => makeClient({ dir, identity: `u${i}@example.org`, days: 30, force: false })));
    const r = await record(dir);
    expect(r.certificates.map((c) => c.identity).sort()).toEqual(['localhost', ...Array.from({ length: 8 }, (_, i) => `u${i}@example.org`), 'valid_user@qt-test.com'].sort());
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]); // no lock or temporary file left
  });

  it('takes over a lock left by a run that died, and waits for one that is held', async () => {
    const dir = fresh();
    await init(dir);
    const lock = join(dir, '.ca-index.lock');
    await writeFile(lock, '');
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(lock, old, old);
    await makeClient({ dir, identity: 'late@example.org', days: 30, force: false });
    let released = false;
    const held = withLock(lock, () => new Promise<void>((r) => setTimeout(() => ((released = true), r()), 300)));
    await new Promise((r) => setTimeout(r, 20));
    await makeClient({ dir, identity: 'patient@example.org', days: 30, force: false });
    expect(released).toBe(true);
    await held;
    expect((await record(dir)).certificates.map((c) => c.identity)).toContain('patient@example.org');
  });

  it('a corrupt record: the error names it and nothing is written', async () => {
    const dir = fresh();
    await init(dir);
    for (const bad of ['{"version":1,', '[]', '{"version":2}', JSON.stringify({ ...(await record(dir)), certificates: [{ serial: 'xyz' }] })]) {
      await writeFile(join(dir, RECORD_FILE), bad);
      const before = await snapshot(dir);
      await expect(makeClient({ dir, identity: 'bob@example.org', days: 30, force: false })).rejects.toMatchObject({
        code: ErrorCodes.FILE,
        message: `${join(dir, RECORD_FILE)} is corrupt`,
        hint: expect.stringContaining('nothing was written'),
      });
      await expect(revokeCertificates({ ca: caPathsIn(dir), target: { identity: 'localhost' } })).rejects.toMatchObject({ message: `${join(dir, RECORD_FILE)} is corrupt` });
      await expect(listIssued(join(dir, 'ca.crt'))).rejects.toMatchObject({ message: `${join(dir, RECORD_FILE)} is corrupt` });
      expect(await snapshot(dir)).toEqual(before);
    }
  });

  it('the record of another CA is refused, naming both', async () => {
    const a = fresh();
    const b = fresh();
    await init(a);
    await init(b);
    await copyFile(join(b, RECORD_FILE), join(a, RECORD_FILE));
    const ca = await readCertificateFile(join(a, 'ca.crt'));
    await expect(readRecord(join(a, RECORD_FILE), ca)).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `${join(a, RECORD_FILE)} is the record of another CA` });
  });

  it('a new CA does not write over the record or CRL of one that was moved away', async () => {
    const dir = fresh();
    await init(dir);
    await rm(join(dir, 'ca.crt'));
    await rm(join(dir, 'ca.key'));
    const before = await snapshot(dir);
    await expect(init(dir, { force: true })).rejects.toMatchObject({ code: ErrorCodes.FILE, message: `${join(dir, RECORD_FILE)} is left from another CA` });
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('revoke', () => {
  let dir: string;
  const ca = () => caPathsIn(dir);
  beforeAll(async () => {
    dir = fresh();
    await init(dir, { clients: ['valid_user@qt-test.com', 'alice@example.org', 'bob@example.org'] });
  });

  it('by identity: every certificate of it, with the reason, in a CRL openssl verifies and acts on', async () => {
    const second = await makeClient({ dir, identity: 'alice@example.org', name: 'alice-phone', days: 30, force: false });
    const r = await revokeCertificates({ ca: ca(), target: { identity: 'alice@example.org' }, reason: 'affiliationChanged' });
    expect(r.revoked.map((c) => c.cert).sort()).toEqual(['alice-phone.crt', 'alice@example.org.crt']);
    expect(r.crl).toMatchObject({ path: join(dir, 'ca.crl'), number: 2, revoked: 2, carried: 0 });
    expect(r.crl.nextUpdate.getTime() - r.crl.thisUpdate.getTime()).toBe(90 * 86_400_000 + 5 * 60_000);
    expect((await crlVerifies(join(dir, 'ca.crl'), join(dir, 'ca.crt'))).code).toBe(0);
    for (const f of ['alice@example.org.crt', 'alice-phone.crt']) {
      const v = await verifyWithCrl(join(dir, f), join(dir, 'ca.crt'), join(dir, 'ca.crl'));
      expect(v.code, f).not.toBe(0);
      expect(v.stdout + v.stderr).toContain('certificate revoked');
    }
    expect((await verifyWithCrl(join(dir, 'bob@example.org.crt'), join(dir, 'ca.crt'), join(dir, 'ca.crl'))).code).toBe(0);
    const list = readCrl(await readFile(join(dir, 'ca.crl')), second.ca.certificate);
    expect(list.revoked.get(await serialOf(second.made[0]!.certPath))?.reason).toBe('affiliationChanged');
    const rec = await record(dir);
    expect(rec.certificates.filter((c) => c.revoked).map((c) => c.revoked?.reason)).toEqual(['affiliationChanged', 'affiliationChanged']);
  });

  it('by serial, and again: already revoked, left as it was', async () => {
    const serial = await serialOf(join(dir, 'bob@example.org.crt'));
    const r = await revokeCertificates({ ca: ca(), target: { serial: `00${serial.toLowerCase()}` }, reason: 'keyCompromise' });
    expect(r.revoked.map((c) => c.serial)).toEqual([serial]);
    const again = await revokeCertificates({ ca: ca(), target: { serial }, reason: 'superseded' });
    expect(again.revoked).toEqual([]);
    expect(again.already.map((c) => c.revoked?.reason)).toEqual(['keyCompromise']);
    expect(again.crl.number).toBe(r.crl.number + 1);
  });

  it('an unknown serial or identity: not found, naming the record, nothing written', async () => {
    const before = await snapshot(dir);
    await expect(revokeCertificates({ ca: ca(), target: { serial: 'ABCDEF' } })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND, message: `no certificate with serial ABCDEF in ${join(dir, RECORD_FILE)}` });
    await expect(revokeCertificates({ ca: ca(), target: { identity: 'nobody@example.org' } })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND, message: `no certificate for "nobody@example.org" in ${join(dir, RECORD_FILE)}` });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('by file: one the CA signed before the record existed is recorded and revoked; another CA\'s is refused', async () => {
    const old = fresh();
    await init(old);
    await rm(join(old, RECORD_FILE)); // as made by an earlier qtstatus
    await rm(join(old, 'ca.crl'));
    const listed = await listIssued(join(old, 'ca.crt'));
    expect(listed.hasRecord).toBe(false);
    expect(listed.unrecorded.map((c) => c.cert).sort()).toEqual(['client.crt', 'server.crt']);
    const r = await revokeCertificates({ ca: caPathsIn(old), target: { file: join(old, 'client.crt') }, reason: 'superseded' });
    expect(r.found.map((c) => [c.cert, c.key, c.source])).toEqual([['client.crt', 'client.key', 'found']]);
    expect(r.revoked).toHaveLength(1);
    expect((await verifyWithCrl(join(old, 'client.crt'), join(old, 'ca.crt'), join(old, 'ca.crl'))).code).not.toBe(0);
    const after = await listIssued(join(old, 'ca.crt'));
    expect(after.certificates.map((c) => [c.cert, c.status])).toEqual([['client.crt', 'revoked']]);
    expect(after.unrecorded.map((c) => c.cert)).toEqual(['server.crt']);

    const before = await snapshot(old);
    await expect(revokeCertificates({ ca: caPathsIn(old), target: { file: join(dir, 'client.crt') } })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `${join(dir, 'client.crt')} was not issued by the CA ${join(old, 'ca.crt')}`,
    });
    await expect(revokeCertificates({ ca: caPathsIn(old), target: { file: join(old, 'ca.crt') } })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringContaining('is the CA certificate itself') });
    expect(await snapshot(old)).toEqual(before);
  });

  it('by identity or serial in a directory made before the record: found by signature, recorded, revoked', async () => {
    const old = fresh();
    await init(old, { clients: ['valid_user@qt-test.com', 'erin@example.org'] });
    await rm(join(old, RECORD_FILE));
    const r = await revokeCertificates({ ca: caPathsIn(old), target: { identity: 'erin@example.org' } });
    expect(r.found.map((c) => c.cert)).toEqual(['erin@example.org.crt']);
    expect(r.revoked.map((c) => c.cert)).toEqual(['erin@example.org.crt']);
    const serial = await serialOf(join(old, 'server.crt'));
    const bySerial = await revokeCertificates({ ca: caPathsIn(old), target: { serial } });
    expect(bySerial.revoked.map((c) => [c.cert, c.source])).toEqual([['server.crt', 'found']]);
    expect((await record(old)).certificates.map((c) => c.cert).sort()).toEqual(['erin@example.org.crt', 'server.crt']);
    await expect(revokeCertificates({ ca: caPathsIn(old), target: { identity: 'nobody@example.org' } })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });

  it('a CA key that is not the CA certificate\'s, or a corrupt CRL: a clear error, nothing written', async () => {
    const other = fresh();
    await init(other);
    const before = await snapshot(dir);
    await expect(revokeCertificates({ ca: { certPath: join(dir, 'ca.crt'), keyPath: join(other, 'ca.key') }, target: { identity: 'localhost' } })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `CA key ${join(other, 'ca.key')} does not belong to ${join(dir, 'ca.crt')}`,
    });
    const crl = await readFile(join(dir, 'ca.crl'));
    for (const bad of [Buffer.from('not a crl'), await readFile(join(other, 'ca.crl'))]) {
      await writeFile(join(dir, 'ca.crl'), bad);
      await expect(revokeCertificates({ ca: ca(), target: { identity: 'localhost' } })).rejects.toMatchObject({ code: ErrorCodes.CERT, message: `cannot use the CRL ${join(dir, 'ca.crl')}` });
      await expect(reissueCrl({ ca: ca() })).rejects.toMatchObject({ message: `cannot use the CRL ${join(dir, 'ca.crl')}` });
    }
    await writeFile(join(dir, 'ca.crl'), crl);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('re-issuing keeps what a CRL made by openssl ca revoked, and counts on from its number', async () => {
    const d = fresh();
    await init(d, { clients: ['valid_user@qt-test.com', 'carol@example.org'] });
    await makeClient({ dir: join(d, 'elsewhere'), ca: caPathsIn(d), identity: 'dave@example.org', days: 30, force: false });
    await writeFile(join(d, 'crl.cnf'), `[ca]\ndefault_ca = qt\n[qt]\ndatabase = ${d}/index.txt\ncrlnumber = ${d}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`);
    await writeFile(join(d, 'index.txt'), '');
    await writeFile(join(d, 'crlnumber'), '10\n');
    const o = ['-config', join(d, 'crl.cnf'), '-keyfile', join(d, 'ca.key'), '-cert', join(d, 'ca.crt')];
    // carol is recorded; a certificate openssl itself signed is not.
    await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'x.key'), '-subj', '/CN=x@example.org', '-out', join(d, 'x.csr'));
    await openssl('x509', '-req', '-in', join(d, 'x.csr'), '-CA', join(d, 'ca.crt'), '-CAkey', join(d, 'ca.key'), '-days', '2', '-out', join(d, 'x.pem'));
    expect((await openssl('ca', ...o, '-revoke', join(d, 'carol@example.org.crt'), '-crl_reason', 'keyCompromise')).code).toBe(0);
    expect((await openssl('ca', ...o, '-revoke', join(d, 'x.pem'))).code).toBe(0);
    expect((await openssl('ca', ...o, '-gencrl', '-out', join(d, 'ca.crl'))).code).toBe(0);
    const r = await reissueCrl({ ca: caPathsIn(d), periodSeconds: 3600 });
    expect(r.crl).toMatchObject({ number: 0x11, revoked: 2, carried: 2 });
    expect(r.crl.nextUpdate.getTime() - r.crl.thisUpdate.getTime()).toBe(3600_000 + 5 * 60_000);
    for (const f of ['carol@example.org.crt', 'x.pem']) expect((await verifyWithCrl(join(d, f), join(d, 'ca.crt'), join(d, 'ca.crl'))).code, f).not.toBe(0);
    const rec = await record(d);
    expect(rec.certificates.find((c) => c.identity === 'carol@example.org')?.revoked?.reason).toBe('keyCompromise');
    expect(rec.revokedUnknown.map((u) => u.serial)).toEqual([await serialOf(join(d, 'x.pem'))]);
    expect(rec.crl.periodSeconds).toBe(3600);
    // The leaf made in another directory is recorded beside the CA, by a path relative to it.
    expect(rec.certificates.find((c) => c.identity === 'dave@example.org')?.cert).toBe(join('elsewhere', 'dave@example.org.crt'));
    // The period chosen sticks: a revoke later issues a CRL for an hour too.
    const later = await revokeCertificates({ ca: caPathsIn(d), target: { identity: 'dave@example.org' } });
    expect(later.crl.nextUpdate.getTime() - later.crl.thisUpdate.getTime()).toBe(3600_000 + 5 * 60_000);
    expect(later.crl.number).toBe(0x12);
  });
});
