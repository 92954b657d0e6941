// Renewal (issue #12): the same identity and names, a fresh validity, a new
// key unless asked otherwise, the files replaced atomically and the record
// updated; certificates of another CA refused. OpenSSL accepts the renewed
// certificate with the CRL that revokes the old one.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { certificateInfo } from '../../src/pki/inspect.ts';
import { caPathsIn, makeClient, makeServer } from '../../src/pki/make.ts';
import { readCertificateFile } from '../../src/pki/read.ts';
import { parseRecord, RECORD_FILE } from '../../src/pki/record.ts';
import { renewCertificate, renewExpiring } from '../../src/pki/renew.ts';
import { revokeCertificates } from '../../src/pki/revoke.ts';
import { caScratch } from './scratch.ts';
import { openssl, verifyWithCrl } from './peers.ts';

const scratch = caScratch([{ kind: 'dns', value: 'localhost' }, { kind: 'ip', value: '127.0.0.1' }]);

const DAY = 86_400_000;
const { fresh, init } = scratch;
const record = async (dir: string) => parseRecord(await readFile(join(dir, RECORD_FILE), 'utf8'), RECORD_FILE);
const info = async (file: string) => certificateInfo(await readCertificateFile(file));

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), 'latin1');
  return out;
}

describe('renewCertificate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fresh();
    await init(dir);
  });

  it('a server: same names, new serial and key, as long as before, recorded as the successor', async () => {
    await makeServer({ dir, hosts: [{ kind: 'dns', value: 'status.internal' }, { kind: 'ip', value: '10.0.0.5' }, { kind: 'ip', value: '::1' }], days: 90, force: false });
    const file = join(dir, 'status.internal.crt');
    const [old, oldKey] = [await info(file), await readFile(join(dir, 'status.internal.key'), 'utf8')];
    const r = await renewCertificate({ ca: caPathsIn(dir), file });
    const renewed = await info(file);
    expect(renewed.serial).not.toBe(old.serial);
    expect(renewed.serial).toBe(r.renewed.serial);
    expect(renewed.subject).toBe(old.subject);
    expect(renewed.names).toEqual(old.names);
    expect(renewed.extKeyUsage).toEqual(['serverAuth']);
    expect(renewed.notAfter.getTime() - renewed.notBefore.getTime()).toBe(90 * DAY + 5 * 60_000);
    expect(renewed.notBefore.getTime()).toBeGreaterThanOrEqual(old.notBefore.getTime());
    expect(r.keyReused).toBe(false);
    expect(await readFile(join(dir, 'status.internal.key'), 'utf8')).not.toBe(oldKey);
    expect(renewed.key.label).toBe('ECDSA P-256');
    const rec = await record(dir);
    expect(rec.certificates.find((c) => c.serial === old.serial)?.replacedBy).toBe(renewed.serial);
    expect(rec.certificates.find((c) => c.serial === renewed.serial)).toMatchObject({ cert: 'status.internal.crt', key: 'status.internal.key', source: 'issued' });
    const v = await openssl('verify', '-CAfile', join(dir, 'ca.crt'), '-auth_level', '2', file);
    expect(v.code, v.stderr).toBe(0);
  });

  it('--reuse-key keeps the key; --days and --key-type are honoured', async () => {
    const file = join(dir, 'client.crt');
    const key = await readFile(join(dir, 'client.key'), 'utf8');
    const r = await renewCertificate({ ca: caPathsIn(dir), file, reuseKey: true, days: 30 });
    expect(r.keyReused).toBe(true);
    expect(await readFile(join(dir, 'client.key'), 'utf8')).toBe(key);
    const renewed = await info(file);
    expect(renewed).toMatchObject({ commonName: 'valid_user@qt-test.com', names: { email: ['valid_user@qt-test.com'] }, extKeyUsage: ['clientAuth'] });
    expect(renewed.notAfter.getTime() - renewed.notBefore.getTime()).toBe(30 * DAY + 5 * 60_000);
    await renewCertificate({ ca: caPathsIn(dir), file, keyType: 'rsa-2048' });
    expect((await info(file)).key.label).toBe('RSA 2048');
  });

  it('after a revoke: openssl -crl_check refuses the old certificate and accepts the renewed one', async () => {
    await makeClient({ dir, identity: 'lost@example.org', days: 30, force: false });
    const file = join(dir, 'lost@example.org.crt');
    const old = join(dir, 'lost-old.crt');
    await writeFile(old, await readFile(file));
    await revokeCertificates({ ca: caPathsIn(dir), target: { identity: 'lost@example.org' }, reason: 'keyCompromise' });
    await expect(renewCertificate({ ca: caPathsIn(dir), file, reuseKey: true })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringContaining('is revoked (keyCompromise): its key is not used again') });
    await renewCertificate({ ca: caPathsIn(dir), file });
    expect((await verifyWithCrl(old, join(dir, 'ca.crt'), join(dir, 'ca.crl'))).code).not.toBe(0);
    const ok = await verifyWithCrl(file, join(dir, 'ca.crt'), join(dir, 'ca.crl'));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });

  it('a non-email client stays one (the old system\'s bad_client)', async () => {
    await makeClient({ dir, identity: 'not_an_email', allowNonEmail: true, name: 'bad_client', days: 30, force: false });
    await renewCertificate({ ca: caPathsIn(dir), file: join(dir, 'bad_client.crt') });
    expect(await info(join(dir, 'bad_client.crt'))).toMatchObject({ subject: 'CN=not_an_email', names: { email: [] } });
  });

  it('refuses a certificate another CA issued, the CA itself and a key that is not its own; nothing written', async () => {
    const other = fresh();
    await init(other);
    const before = await snapshot(dir);
    await expect(renewCertificate({ ca: caPathsIn(dir), file: join(other, 'client.crt') })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `${join(other, 'client.crt')} was not issued by the CA ${join(dir, 'ca.crt')}`,
    });
    await expect(renewCertificate({ ca: caPathsIn(dir), file: join(dir, 'ca.crt') })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: `${join(dir, 'ca.crt')} is the CA certificate` });
    await expect(renewCertificate({ ca: caPathsIn(dir), file: join(dir, 'server.crt'), keyFile: join(dir, 'client.key'), reuseKey: true })).rejects.toMatchObject({
      code: ErrorCodes.CERT,
      message: `key ${join(dir, 'client.key')} does not belong to ${join(dir, 'server.crt')}`,
    });
    await expect(renewCertificate({ ca: caPathsIn(dir), file: join(dir, 'server.crt'), keyFile: join(dir, 'ca.key') })).rejects.toMatchObject({ code: ErrorCodes.USAGE, message: expect.stringContaining("is the CA's key") });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('records a certificate made before the record, then renews it', async () => {
    const old = fresh();
    await init(old);
    const { rm } = await import('node:fs/promises');
    await rm(join(old, RECORD_FILE));
    const r = await renewCertificate({ ca: caPathsIn(old), file: join(old, 'server.crt') });
    expect(r.found).toBe(true);
    expect((await record(old)).certificates.map((c) => [c.source, c.replacedBy === undefined])).toEqual([['found', false], ['issued', true]]);
  });
});

describe('renewExpiring', () => {
  it('renews what expires within the time, and nothing revoked, replaced or moved', async () => {
    const dir = fresh();
    await init(dir);
    const ca = caPathsIn(dir);
    const past = new Date(Date.now() - 350 * DAY);
    await makeClient({ dir, identity: 'soon@example.org', days: 365, force: false, now: past }); // 15 days left
    await makeClient({ dir, identity: 'gone@example.org', days: 365, force: false, now: past });
    await makeClient({ dir, identity: 'moved@example.org', days: 365, force: false, now: past });
    await makeClient({ dir, identity: 'expired@example.org', days: 60, force: false, now: new Date(Date.now() - 61 * DAY) });
    await revokeCertificates({ ca, target: { identity: 'gone@example.org' } });
    // moved@'s file now holds another certificate, written by something else than qtstatus.
    await writeFile(join(dir, 'moved@example.org.crt'), await readFile(join(dir, 'server.crt')));
    const r = await renewExpiring({ ca, withinMs: 30 * DAY });
    expect(r.renewed.map((x) => x.renewed.identity).sort()).toEqual(['expired@example.org', 'soon@example.org']);
    expect(r.skipped.map((s) => [s.entry.identity, s.why.replace(/\(serial [0-9A-F]+\)/, '(serial …)')])).toEqual([['moved@example.org', 'it now holds another certificate (serial …)']]);
    expect(r.failed).toEqual([]);
    expect((await info(join(dir, 'soon@example.org.crt'))).daysLeft).toBeGreaterThanOrEqual(364);
    expect((await info(join(dir, 'expired@example.org.crt'))).daysLeft).toBeGreaterThanOrEqual(59); // as long as before
    // The renewed ones are not due any more: a second run renews nothing.
    const again = await renewExpiring({ ca, withinMs: 30 * DAY });
    expect(again.renewed).toEqual([]);
  });
});
