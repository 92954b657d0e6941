// `qtstatus certs` end to end: the real binary makes the files, and real TLS
// peers (curl, Node's tls, Python's ssl, openssl) use them over 127.0.0.1.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { curlMtls, hasCurl, hasPython, openssl, pythonBothSides, startMtlsServer, tempDir } from '../helpers/tls.ts';

let root: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir: root, remove } = await tempDir()));
afterAll(() => remove());

/** A Node TLS client with the client certificate; resolves with the server's answer. */
async function nodeClient(dir: string, port: number, servername = 'localhost'): Promise<string> {
  const [ca, cert, key] = await Promise.all(['ca.crt', 'client.crt', 'client.key'].map((f) => readFile(join(dir, f))));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, cert, key }, () => {
      socket.write(`GET / HTTP/1.0\r\nHost: ${servername}\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8').on('data', (d: string) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe.each([
  ['rsa-2048', []],
  ['ecdsa-p256', ['--key-type', 'ecdsa-p256']],
])('certs init (%s) works with every peer', (keyType, flags) => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, keyType, 'certs');
    const r = await runCli(['certs', 'init', '--dir', dir, ...flags]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('writes the old system\'s six files, the record and the first CRL, and says what it made', async () => {
    expect((await readdir(dir)).sort()).toEqual(['ca-index.json', 'ca.crl', 'ca.crt', 'ca.key', 'client.crt', 'client.key', 'server.crt', 'server.key']);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    const again = await runCli(['certs', 'inspect', '--json', join(dir, 'server.crt')]);
    const info = JSON.parse(again.stdout);
    expect(info).toMatchObject({ type: 'certificate', commonName: 'localhost', names: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] }, key: { label: keyType === 'rsa-2048' ? 'RSA 2048' : 'ECDSA P-256' } });
  });

  it('openssl verify -auth_level 2 accepts both leaves', async () => {
    const r = await openssl('verify', '-CAfile', join(dir, 'ca.crt'), '-auth_level', '2', join(dir, 'server.crt'), join(dir, 'client.crt'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  const curl = `curl with the client certificate reaches a server that requires one, by name and by IP${hasCurl ? '' : ' (skipped: curl is missing)'}`;
  it.skipIf(!hasCurl)(curl, async () => {
    const server = await startMtlsServer(dir);
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const r = await curlMtls(dir, server.port, host);
        expect(r.stderr).toBe('');
        expect(JSON.parse(r.stdout)).toEqual({ cn: 'valid_user@qt-test.com', san: 'email:valid_user@qt-test.com' });
      }
      // The server really requires it: the server certificate is no client certificate.
      const refused = await curlMtls(dir, server.port, 'localhost', 'server');
      expect(refused.code).not.toBe(0);
    } finally {
      await server.close();
    }
  });

  it('Node tls on both sides', async () => {
    const server = await startMtlsServer(dir);
    try {
      expect(await nodeClient(dir, server.port)).toContain('"cn":"valid_user@qt-test.com"');
      await expect(nodeClient(dir, server.port, 'example.com')).rejects.toThrow(/Hostname\/IP does not match/);
    } finally {
      await server.close();
    }
  });

  const python = `Python ssl on both sides${hasPython ? '' : ' (skipped: python3 with the ssl module is missing)'}`;
  it.skipIf(!hasPython)(python, async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const r = await pythonBothSides(dir, host);
      expect(r).toMatchObject({ client: 'valid_user@qt-test.com', clientSan: [['email', 'valid_user@qt-test.com']], server: 'localhost', reply: 'ok' });
    }
  });
});

describe('certs subcommands', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'sub');
    const r = await runCli(['certs', 'init', '--dir', dir, '--key-type', 'ecdsa', '--client', 'valid_user@qt-test.com', '--client', 'alice@example.org', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('init again: refuses existing files naming them, keeps the CA with --force', async () => {
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const r = await runCli(['certs', 'init', '--dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`qtstatus: ${join(dir, 'server.crt')}, ${join(dir, 'server.key')}, ${join(dir, 'client.crt')}, ${join(dir, 'client.key')} already exist (nothing was written; use --force`);
    const forced = await runCli(['certs', 'init', '--dir', dir, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const out = JSON.parse(forced.stdout);
    expect(out.certificates.map((c: { role: string; reused: boolean }) => [c.role, c.reused])).toEqual([['ca', true], ['server', false], ['client', false]]);
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe(ca);
  });

  it('client: more clients from the CA; a non-email only with --allow-non-email, with a warning', async () => {
    const ok = await runCli(['certs', 'client', 'bob@example.org', '--dir', dir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(join(dir, 'bob@example.org.crt'));
    const refused = await runCli(['certs', 'client', 'not_an_email', '--dir', dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^qtstatus: client identity "not_an_email" is not an email address.*--allow-non-email/);
    const bad = await runCli(['certs', 'client', 'not_an_email', '--allow-non-email', '--name', 'bad_client', '--dir', dir]);
    expect(bad.code, bad.stderr).toBe(0);
    expect(bad.stderr).toContain('warning: bad_client.crt has CN=not_an_email, not an email address: the server answers 400 to it');
    const verify = await runCli(['certs', 'verify', join(dir, 'bad_client.crt'), '--ca', join(dir, 'ca.crt')]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain('is not valid: its CN "not_an_email" is not an email address: the server answers 400 to it');
  });

  it('server: a certificate for other names, verified by name', async () => {
    const r = await runCli(['certs', 'server', '--host', 'status.internal', '--host', '10.0.0.5', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'status.internal.crt');
    const good = await runCli(['certs', 'verify', file, '--ca', join(dir, 'ca.crt'), '--host', '10.0.0.5']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain(`${file}: valid server certificate`);
    const wrong = await runCli(['certs', 'verify', file, '--ca', join(dir, 'ca.crt'), '--host', 'localhost', '--json']);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ valid: false, role: 'server', problems: ['localhost is not among its names (DNS:status.internal, IP:10.0.0.5)'] });
    expect(wrong.stderr).toMatch(/^qtstatus: .*status\.internal\.crt is not valid: localhost is not among its names .*\(make one for that name/);
  });

  it('verify: a client by its address; a client is not a server', async () => {
    const ok = await runCli(['certs', 'verify', join(dir, 'client.crt'), '--ca', join(dir, 'ca.crt'), '--email', 'valid_user@qt-test.com']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const asServer = await runCli(['certs', 'verify', join(dir, 'client.crt'), '--ca', join(dir, 'ca.crt'), '--host', 'localhost']);
    expect(asServer.code).toBe(1);
    expect(asServer.stderr).toContain('without serverAuth: TLS peers refuse it as a server certificate');
  });

  it('inspect: the fields people need, and a key file', async () => {
    const r = await runCli(['certs', 'inspect', join(dir, 'alice@example.org.crt'), join(dir, 'ca.key')]);
    expect(r.code, r.stderr).toBe(0);
    for (const field of [/subject +CN=alice@example.org/, /issuer +O=qtstatus, CN=qtstatus CA [0-9a-f]{8}/, /names +email:alice@example.org/, /valid .* \(36[45] days left\)/, /key +ECDSA P-256/, /key usage +digitalSignature; extended: clientAuth/, /CA +no/, /serial +[0-9A-F]+ \(15\d bits\)/, /SHA-256 +([0-9A-F]{2}:){31}[0-9A-F]{2}/]) {
      expect(r.stdout).toMatch(field);
    }
    expect(r.stdout).toContain('private key ECDSA P-256');
  });

  it('p12: a bundle with the password from the environment or a file, never overwritten without --force', async () => {
    const out = join(dir, 'client.p12');
    const r = await runCli(['certs', 'p12', join(dir, 'client.crt'), '--password-env', 'P12_PASS'], { env: { P12_PASS: 'sesame' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote ${out} (valid_user@qt-test.com with 1 CA certificate; mode 0600)`);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const info = await openssl('pkcs12', '-in', out, '-info', '-noout', '-passin', 'pass:sesame');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toContain('pbeWithSHA1And3-KeyTripleDES-CBC');
    const again = await runCli(['certs', 'p12', join(dir, 'client.crt'), '--password-env', 'P12_PASS'], { env: { P12_PASS: 'sesame' } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${out} already exists`);
    await writeFile(join(dir, 'pass.txt'), 'from file\n');
    const fromFile = await runCli(['certs', 'p12', join(dir, 'client.crt'), '--password-file', join(dir, 'pass.txt'), '--no-ca', '-o', join(dir, 'b.p12')]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const b = await openssl('pkcs12', '-in', join(dir, 'b.p12'), '-info', '-noout', '-passin', 'pass:from file');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr.match(/Certificate bag/g)).toHaveLength(1);
    const noPass = await runCli(['certs', 'p12', join(dir, 'client.crt'), '-o', join(dir, 'c.p12')]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain('cannot prompt for a password: standard input is not a terminal (give --password-env VAR or --password-file FILE)');
  });
});

describe('certs bad input', () => {
  it('usage errors exit 2 and name the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['certs', 'init', '--days', '0'], /--days <n>' argument '0' is invalid\. 0 is not a whole number of days of 1 or more/],
      [['certs', 'init', '--days', '99999'], /99999 days is more than 100 years/],
      [['certs', 'init', '--host', 'bad..name'], /"bad\.\.name" is not a valid host name/],
      [['certs', 'init', '--host', '300.1.1.1'], /"300\.1\.1\.1" is not a valid IPv4 address/],
      [['certs', 'init', '--client', 'no-at-sign'], /"no-at-sign" is not an email address/],
      [['certs', 'init', '--key-type', 'dsa'], /"dsa" is not a key type \(rsa-2048, rsa-3072, rsa-4096, ecdsa-p256\)/],
      [['certs', 'server'], /required option '-H, --host <name>' not specified/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli([...args, '--dir', join(root, 'never')]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    await expect(stat(join(root, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('failures exit 1 and name the file', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, 'x');
    const unwritable = await runCli(['certs', 'init', '--dir', join(file, 'certs')]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(new RegExp(`^qtstatus: cannot create directory ${join(file, 'certs')}: ENOTDIR: not a directory \\(choose a directory`));
    const noCa = await runCli(['certs', 'client', 'a@example.org', '--dir', join(root, 'empty')]);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toContain(`qtstatus: cannot read certificate ${join(root, 'empty', 'ca.crt')}: ENOENT`);
    const corrupt = await runCli(['certs', 'inspect', file]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`qtstatus: ${file} is not a PEM or DER certificate`);
  });

  it('every subcommand has help with examples', async () => {
    for (const sub of ['init', 'client', 'server', 'inspect', 'verify', 'p12', 'list', 'revoke', 'crl', 'renew', 'bundle', 'check']) {
      const r = await runCli(['certs', sub, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples:\n {2}\$ qtstatus certs /);
    }
  });
});

// Issue #10: the CA replaced by a leaf, files outside --dir, and an internal
// error for a host with a zone id. Each is a usage error (exit 2) that says
// why, and nothing is written.
describe('certs names that would escape the directory or hit the CA', () => {
  let dir: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    dir = join(root, 'guarded', 'd');
    const r = await runCli(['certs', 'init', '--dir', dir, '--key-type', 'ecdsa-p256', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    before = {};
    for (const f of await readdir(dir)) before[f] = await readFile(join(dir, f), 'latin1');
  });
  const unchanged = async () => {
    const now: Record<string, string> = {};
    for (const f of await readdir(dir)) now[f] = await readFile(join(dir, f), 'latin1');
    expect(now).toEqual(before);
    expect((await readdir(join(root, 'guarded'))).sort()).toEqual(['d']);
  };

  it.each([
    [['client', 'alice@example.org', '--name', './ca', '--force'], /'-n, --name <base>' argument '\.\/ca' is invalid\. "\.\/ca" is a file name, not a path/],
    [['client', 'alice@example.org', '--name', '../outside'], /"\.\.\/outside" is a file name, not a path/],
    [['client', 'alice@example.org', '--name', 'CA', '--force'], /ca\.crt and ca\.key are the CA's files, which only `qtstatus certs init` writes/],
    [['client', 'alice@example.org', '--name', '.hidden'], /starts with "\."/],
    [['client', 'ca', '--allow-non-email', '--force'], /the files for "ca" would be ca\.crt and ca\.key, the CA's files \(name them with --name/],
    [['server', '--host', 'CA', '--force'], /the files for "ca" would be ca\.crt and ca\.key/],
    [['server', '--host', 'localhost', '--name', '../x', '--force'], /is a file name, not a path/],
  ])('certs %j: exit 2, the CA and the directory untouched', async (args, message) => {
    const r = await runCli(['certs', ...args, '--dir', dir]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^qtstatus: /);
    expect(r.code).toBe(2);
    await unchanged();
  });

  it('p12 never writes over the CA or its own inputs', async () => {
    for (const out of [join(dir, 'ca.key'), join(dir, 'CA.crt'), join(dir, 'client.key'), join(dir, 'client.crt')]) {
      const r = await runCli(['certs', 'p12', join(dir, 'client.crt'), '-o', out, '--force', '--password-env', 'P'], { env: { P: 'sesame' } });
      expect(r.stderr).toMatch(/^qtstatus: --out: .* (is one of the bundle's own files|is the CA's)/);
      expect(r.code).toBe(2);
    }
    await unchanged();
  });

  it('init on a directory with a CA keeps it, with --force too', async () => {
    const r = await runCli(['certs', 'init', '--dir', dir, '--force', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).certificates[0]).toMatchObject({ role: 'ca', reused: true });
    expect(await readFile(join(dir, 'ca.crt'), 'latin1')).toBe(before['ca.crt']);
    expect(await readFile(join(dir, 'ca.key'), 'latin1')).toBe(before['ca.key']);
    for (const f of ['server.crt', 'server.key', 'client.crt', 'client.key']) before[f] = await readFile(join(dir, f), 'latin1');
  });
});

describe('certs server --host: odd values are usage errors with a reason, never internal errors', () => {
  it.each([
    ['::1%eth0', /"::1%eth0" has a zone id \(%eth0\): a certificate holds the address alone; give "::1"/],
    ['fe80::1%25eth0', /has a zone id/],
    ['[::1]:8443', /has a port \(8443\)/],
    ['localhost:8443', /has a port \(8443\).*give "localhost"/],
    ['a..b', /an empty label/],
    ['-x', /starts or ends with "-"/],
    ['', /an empty host name/],
    ['1.2.3.4.5', /not a valid IPv4 address/],
    ['0x7f.1', /ends in a number/],
    ['a'.repeat(64), /a label of 64 characters \(at most 63\)/],
    ['[nope]', /brackets hold an IPv6 address/],
  ])('--host %j', async (host, message) => {
    const r = await runCli(['certs', 'server', '--host', host, '--dir', join(root, 'never-made')]);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    await expect(stat(join(root, 'never-made'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('--host [::1] is the address ::1', async () => {
    const dir = join(root, 'bracketed');
    expect((await runCli(['certs', 'init', '--dir', dir, '--key-type', 'ecdsa-p256', '--quiet'])).code).toBe(0);
    const r = await runCli(['certs', 'server', '--host', '[::1]', '--name', 'v6', '--dir', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).certificates[1]).toMatchObject({ names: { ip: ['::1'] } });
  });
});
