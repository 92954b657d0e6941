// Certificates for server and client tests, made with qtstatus's own pki
// (and openssl for what qtstatus refuses to make, e.g. two CNs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyType } from '../../src/pki/keys.ts';
import { initCertificates, makeClient } from '../../src/pki/make.ts';

export interface TestPki {
  dir: string;
  ca: string;
  server: { cert: string; key: string };
  /** valid_user@qt-test.com, to be registered. */
  client: { cert: string; key: string };
  /** unknown@qt-test.com: CA-signed, never registered. */
  unknown: { cert: string; key: string };
  /** CN=not_an_email. */
  badCn: { cert: string; key: string };
  /** valid_user@qt-test.com, expired two days ago. */
  expired: { cert: string; key: string };
  /** valid_user@qt-test.com from another CA. */
  otherCa: { cert: string; key: string };
  /** Two CN attributes, signed by the CA (openssl). */
  twoCns: { cert: string; key: string };
  /** Subject `CN=attacker@qt-test.com, O=x\,CN=valid_user@qt-test.com`: one CN, and an O whose text looks like a second (openssl). */
  commaCn: { cert: string; key: string };
  /** A subject with no CN at all (openssl). */
  noCn: { cert: string; key: string };
  /** RSA-1024 and SHA-1 signed client certificates for valid_user (openssl). */
  rsa1024: { cert: string; key: string };
  sha1: { cert: string; key: string };
  /** revoked@qt-test.com, listed in `crl`. */
  revoked: { cert: string; key: string };
  /** A CRL from the CA (openssl ca -gencrl) that revokes `revoked`. */
  crl: string;
  remove(): void;
}

export const VALID_USER = 'valid_user@qt-test.com';

export async function makeTestPki(keyType: KeyType = 'ecdsa-p256'): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'qt-pki-'));
  const hosts = [
    { kind: 'dns', value: 'localhost' },
    { kind: 'ip', value: '127.0.0.1' },
    { kind: 'ip', value: '::1' },
  ] as const;
  // 90 days: beyond serve's 30-day expiry warning, so it says nothing unasked.
  const base = { days: 90, force: false, keyType };
  await initCertificates({ dir, hosts: [...hosts], clients: [VALID_USER, 'unknown@qt-test.com'], caDays: 90, ...base });
  await makeClient({ dir, identity: 'not_an_email', allowNonEmail: true, name: 'bad_client', ...base });
  await makeClient({ dir, identity: VALID_USER, name: 'expired', ...base, days: 1, now: new Date(Date.now() - 3 * 86_400_000) });
  const other = join(dir, 'other');
  await initCertificates({ dir: other, hosts: [...hosts], clients: [VALID_USER], caDays: 90, ...base });
  const f = (name: string) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  const twoCns = f('two_cns');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', twoCns.key, '-subj', `/CN=${VALID_USER}/CN=other@qt-test.com`, '-out', join(dir, 'two_cns.csr'));
  writeFileSync(join(dir, 'two_cns.ext'), 'extendedKeyUsage = clientAuth\nkeyUsage = critical, digitalSignature\n');
  openssl('x509', '-req', '-in', join(dir, 'two_cns.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-days', '2', '-out', twoCns.cert, '-extfile', join(dir, 'two_cns.ext'));
  // Hostile subjects and weak keys, signed by the CA as a careless or
  // compromised registration authority might (issue #10).
  const signed = (name: string, subj: string, newkey: string[], md = '-sha256') => {
    openssl('req', '-new', ...newkey, '-nodes', '-keyout', join(dir, `${name}.key`), '-subj', subj, '-out', join(dir, `${name}.csr`));
    openssl('x509', '-req', md, '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-days', '2', '-out', join(dir, `${name}.crt`), '-extfile', join(dir, 'two_cns.ext'));
    return f(name);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const commaCn = signed('comma_cn', `/CN=attacker@qt-test.com/O=x,CN=${VALID_USER}`, ec);
  const noCn = signed('no_cn', `/O=qtstatus/OU=${VALID_USER}`, ec);
  const rsa1024 = signed('rsa1024', `/CN=${VALID_USER}`, ['-newkey', 'rsa:1024']);
  const sha1 = signed('sha1', `/CN=${VALID_USER}`, ['-newkey', 'rsa:2048'], '-sha1');
  await makeClient({ dir, identity: 'revoked@qt-test.com', name: 'revoked', ...base });
  writeFileSync(join(dir, 'crl.cnf'), `[ca]\ndefault_ca = qt\n[qt]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const ca = ['-config', join(dir, 'crl.cnf'), '-keyfile', join(dir, 'ca.key'), '-cert', join(dir, 'ca.crt')];
  openssl('ca', ...ca, '-revoke', join(dir, 'revoked.crt'));
  openssl('ca', ...ca, '-gencrl', '-out', join(dir, 'crl.pem'));
  return {
    dir,
    revoked: f('revoked'),
    crl: join(dir, 'crl.pem'),
    ca: join(dir, 'ca.crt'),
    server: f('server'),
    client: f('client'),
    unknown: f('unknown@qt-test.com'),
    badCn: f('bad_client'),
    expired: f('expired'),
    otherCa: { cert: join(other, 'client.crt'), key: join(other, 'client.key') },
    twoCns,
    commaCn,
    noCn,
    rsa1024,
    sha1,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
