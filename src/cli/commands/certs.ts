// `qtstatus certs`: a private CA, server and client certificates, inspection,
// verification and PKCS#12 bundles (issue #3). The work is in src/pki, which
// is imported when a subcommand runs, so other commands start no slower.

import type { X509Certificate } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import type { CertificateInfo } from '../../pki/inspect.ts';
import { KEY_TYPES, parseKeyType, type KeyType } from '../../pki/keys.ts';
import type { ExtraLeafOptions, MadeSet } from '../../pki/make.ts';
import { emailProblem, fileNameProblem, parseHost, type HostName } from '../../pki/names.ts';
import { DEFAULT_CA_DAYS, DEFAULT_CLIENT, DEFAULT_HOSTS, DEFAULT_LEAF_DAYS, daysProblem } from '../../pki/profile.ts';
import type { Check, VerifyResult } from '../../pki/verify.ts';
import { readSecret } from '../prompt.ts';
import { colourFor, isInteractive } from '../style.ts';

const DEFAULT_DIR = 'certs';

// ---- flag parsers (usage errors, exit 2) ----

function parseHostFlag(value: string, previous: HostName[] = []): HostName[] {
  const parsed = parseHost(value);
  if ('problem' in parsed) throw new InvalidArgumentError(parsed.problem);
  return [...previous, parsed.host];
}

function parseEmailFlag(value: string, previous: string[] = []): string[] {
  const problem = emailProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}; \`qtstatus certs client NAME --allow-non-email\` makes a deliberately bad client`);
  return [...previous, value];
}

function parseDays(value: string): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  const problem = Number.isNaN(n) ? `"${value}" is not a whole number of days` : daysProblem(n);
  if (problem) throw new InvalidArgumentError(problem);
  return n;
}

function parseKeyTypeFlag(value: string): KeyType {
  const type = parseKeyType(value);
  if (!type) throw new InvalidArgumentError(`"${value}" is not a key type (${KEY_TYPES.join(', ')})`);
  return type;
}

/** --name: a plain file name in --dir, never a path or the CA's files (#10). */
function parseNameFlag(value: string): string {
  const problem = fileNameProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

/**
 * The PKCS#12 output may replace an older bundle (--force), never the CA's
 * files or the certificate and key it is made from (#10).
 */
function checkP12Out(out: string, inputs: Array<string | undefined>): void {
  const key = (p: string) => resolve(p).toLowerCase();
  const name = basename(out).toLowerCase();
  if (name === 'ca.crt' || name === 'ca.key') {
    throw new QtError(ErrorCodes.USAGE, `--out: ${out} is the CA's ${name === 'ca.key' ? 'key' : 'certificate'}`, { hint: 'only `qtstatus certs init` writes CA files; give another --out' });
  }
  if (inputs.some((p) => p !== undefined && key(p) === key(out))) {
    throw new QtError(ErrorCodes.USAGE, `--out: ${out} is one of the bundle's own files`, { hint: 'give another --out, e.g. the certificate\'s name with .p12' });
  }
}

function parseEnvName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an environment variable name`);
  return value;
}

// ---- output ----

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function when(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function namesOf(info: CertificateInfo): string {
  const n = info.names;
  const all = [...n.dns, ...n.ip, ...n.email];
  return all.length ? all.join(', ') : (info.commonName ?? info.subject);
}

interface Quiet {
  json?: boolean;
  quiet?: boolean;
}

/** Runs `work` under a spinner when a person is watching stderr. */
async function withSpinner<T>(text: string, opts: Quiet, work: () => Promise<T>): Promise<T> {
  if (opts.quiet || !isInteractive(process.stderr, opts.json)) return work();
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: process.stderr }).start();
  try {
    return await work();
  } finally {
    spinner.stop();
  }
}

async function reportMade(set: MadeSet, opts: Quiet): Promise<void> {
  const { certificateInfo } = await import('../../pki/inspect.ts');
  const entries = [set.ca, ...set.made].map((m) => ({ made: m, info: certificateInfo(m.certificate) }));
  if (opts.json) {
    const certificates = entries.map(({ made, info }) => ({
      role: made.role,
      cert: made.certPath,
      key: made.keyPath,
      reused: made.reused === true,
      subject: info.subject,
      names: info.names,
      notAfter: info.notAfter.toISOString(),
      keyType: info.key.label,
    }));
    process.stdout.write(JSON.stringify({ dir: set.dir, certificates, warnings: set.warnings }) + '\n');
  }
  const c = colourFor(process.stderr, opts.json);
  for (const w of set.warnings) process.stderr.write(c.yellow(`warning: ${w}\n`));
  if (opts.quiet || opts.json) return;
  for (const { made, info } of entries) {
    const label = made.role === 'ca' ? (made.reused ? 'CA (kept)' : 'CA (new)') : made.role;
    const what = made.role === 'ca' ? info.subject : namesOf(info);
    const files = made.reused ? made.certPath : `${made.certPath} ${made.keyPath}`;
    process.stderr.write(`${c.bold(label.padEnd(10))} ${files}\n${' '.repeat(11)}${c.dim(`${what}; ${info.key.label}; until ${day(info.notAfter)}`)}\n`);
  }
}

function nextSteps(set: MadeSet): string {
  const server = set.made.find((m) => m.role === 'server');
  const client = set.made.find((m) => m.role === 'client');
  const lines = [];
  const host = server?.certificate.subject.match(/CN=(.*)/)?.[1];
  if (server && host) lines.push(`qtstatus certs verify ${server.certPath} --ca ${set.ca.certPath} --host ${host}`);
  if (client) lines.push(`qtstatus certs p12 ${client.certPath}     (a bundle for browsers)`);
  return lines.length ? `next:\n${lines.map((l) => `  ${l}`).join('\n')}\n` : '';
}

function printInfo(file: string, info: CertificateInfo): void {
  const c = colourFor(process.stdout);
  const left = info.status !== 'valid' ? c.red(info.status) : info.daysLeft < 30 ? c.yellow(`${info.daysLeft} days left`) : `${info.daysLeft} days left`;
  const usages = [info.keyUsage.join(', ') || 'none', info.extKeyUsage.length ? `extended: ${info.extKeyUsage.join(', ')}` : ''].filter(Boolean).join('; ');
  const n = info.names;
  const names = [...n.dns.map((d) => `DNS:${d}`), ...n.ip.map((i) => `IP:${i}`), ...n.email.map((e) => `email:${e}`)];
  const rows: Array<[string, string]> = [
    ['subject', info.subject],
    ['issuer', info.selfSigned ? `${info.issuer} (self-signed)` : info.issuer],
    ['names', names.join(', ') || 'none'],
    ['valid', `${when(info.notBefore)} to ${when(info.notAfter)} (${left})`],
    ['key', info.key.label],
    ['signature', info.signatureAlgorithm],
    ['key usage', usages],
    ['CA', info.isCa ? `yes${info.pathLen === undefined ? '' : `, path length ${info.pathLen}`}` : 'no'],
    ['serial', `${info.serial} (${info.serialBits} bits)`],
    ['SHA-256', info.fingerprint256],
  ];
  if (info.subjectKeyId) rows.push(['key id', info.subjectKeyId]);
  if (info.authorityKeyId) rows.push(['CA key id', info.authorityKeyId]);
  process.stdout.write(`${c.bold(file)}\n${rows.map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join('\n')}\n`);
}

function infoJson(file: string, info: CertificateInfo): string {
  return JSON.stringify({ type: 'certificate', file, ...info, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString() });
}

const CHECK_HINTS: Record<Check['name'], string> = {
  chain: 'give the CA that issued it with --ca, or make the certificate again from this CA',
  ca: 'make a new CA with `qtstatus certs init` in a new directory and new certificates from it',
  validity: 'make a new certificate with `qtstatus certs server` or `qtstatus certs client` (--force to replace)',
  strength: 'make a new certificate with `qtstatus certs`: SHA-256 and keys of 2048 bits or more',
  usage: 'servers need a server certificate and clients a client certificate (`qtstatus certs inspect` shows its usages)',
  names: 'make one for that name: `qtstatus certs server --host NAME` or `qtstatus certs client EMAIL`',
};

function printVerify(file: string, r: VerifyResult): void {
  const c = colourFor(process.stdout);
  const what = r.role ? `${r.role} certificate` : 'certificate';
  process.stdout.write(r.valid ? c.green(`${file}: valid ${what}\n`) : c.red(`${file}: not a valid ${what}\n`));
  for (const check of r.checks) {
    const mark = check.ok ? c.green('ok  ') : c.red('FAIL');
    process.stdout.write(`  ${mark} ${check.name.padEnd(9)} ${check.detail}\n`);
  }
  if (!r.role) process.stdout.write(c.dim('  (give --host or --email to check its usage and names)\n'));
}

async function readPassword(opts: { passwordEnv?: string; passwordFile?: string }): Promise<string> {
  if (opts.passwordEnv !== undefined) {
    const value = process.env[opts.passwordEnv];
    if (value === undefined || value === '') {
      throw new QtError(ErrorCodes.USAGE, `--password-env: ${opts.passwordEnv} is not set or empty`, { hint: `export ${opts.passwordEnv}=… first` });
    }
    return value;
  }
  if (opts.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.passwordFile, 'utf8');
    } catch (err) {
      throw new QtError(ErrorCodes.FILE, `cannot read password file ${opts.passwordFile}`, { cause: err, hint: 'check --password-file' });
    }
    const first = text.split(/\r?\n/)[0] ?? '';
    if (first === '') throw new QtError(ErrorCodes.USAGE, `--password-file: the first line of ${opts.passwordFile} is empty`, { hint: 'put the password on its first line' });
    return first;
  }
  const password = await readSecret('PKCS#12 password: ');
  if (password === '') throw new QtError(ErrorCodes.USAGE, 'an empty password', { hint: 'macOS and Windows cannot import a bundle without a password' });
  if ((await readSecret('again: ')) !== password) throw new QtError(ErrorCodes.USAGE, 'the two passwords differ', { hint: 'run the command again' });
  return password;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// ---- commands ----

interface MakeFlags extends Quiet {
  dir: string;
  days: number;
  keyType?: KeyType;
  force?: boolean;
  ca?: string;
  caKey?: string;
  name?: string;
}

/** The pki options of the certificate-making flags. */
function leafOptions(flags: MakeFlags): ExtraLeafOptions {
  const ca = flags.ca === undefined && flags.caKey === undefined ? undefined : { certPath: flags.ca ?? join(flags.dir, 'ca.crt'), keyPath: flags.caKey ?? join(flags.dir, 'ca.key') };
  return {
    dir: flags.dir,
    days: flags.days,
    force: flags.force === true,
    ...(flags.keyType ? { keyType: flags.keyType } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(ca ? { ca } : {}),
  };
}

function addMakeOptions(cmd: Command, extra: boolean): Command {
  cmd
    .option('-d, --dir <dir>', 'directory of the CA and the new files (created 0700)', DEFAULT_DIR)
    .option('--days <n>', 'validity of the new certificates in days', parseDays, DEFAULT_LEAF_DAYS)
    .option('-k, --key-type <type>', `key type: ${KEY_TYPES.join(', ')} (default rsa-2048, or the CA's type)`, parseKeyTypeFlag)
    .option('-f, --force', 'replace existing certificate and key files (never the CA)');
  if (extra) {
    cmd
      .option('--ca <file>', 'CA certificate (default <dir>/ca.crt)')
      .option('--ca-key <file>', 'CA private key (default <dir>/ca.key)')
      .option('-n, --name <base>', 'file name in --dir without .crt/.key (not a path, not ca)', parseNameFlag);
  }
  return cmd.option('--json', 'print what was made as JSON on stdout').option('-q, --quiet', 'no messages on stderr except warnings and errors');
}

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .summary('a private CA, server and client certificates')
    .description(
      'Make a private CA and the server and client certificates of an mTLS setup, correct by default;\n' +
        'inspect and verify certificates; bundle a client certificate as PKCS#12 (docs/certs.md).',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs init                                CA, server and client in ./certs
  $ qtstatus certs client alice@example.org            one more client from that CA
  $ qtstatus certs inspect certs/server.crt
  $ qtstatus certs verify certs/client.crt --ca certs/ca.crt --email valid_user@qt-test.com`,
    );

  addMakeOptions(
    certs
      .command('init')
      .summary('a CA, a server and a client certificate in one step')
      .description(
        'Make a CA (or reuse the one in --dir), a server certificate and client certificates:\n' +
          'ca.crt ca.key server.crt server.key client.crt client.key, keys 0600. An existing CA is\n' +
          'never replaced; existing server and client files only with --force.',
      )
      .option('-H, --host <name>', `server DNS name or IP address, repeatable (default ${DEFAULT_HOSTS.join(', ')})`, parseHostFlag)
      .option('-c, --client <email>', `client identity, repeatable: the first is client.crt, others <email>.crt (default ${DEFAULT_CLIENT})`, parseEmailFlag)
      .option('--ca-days <n>', 'validity of a new CA in days', parseDays, DEFAULT_CA_DAYS),
    false,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs init                                     RSA 2048 in ./certs for localhost
  $ qtstatus certs init --key-type ecdsa-p256 --dir tls
  $ qtstatus certs init --host status.internal --host 10.0.0.5 --client alice@example.org
  $ qtstatus certs init --force                             new leaves, same CA`,
    )
    .action(async (flags: MakeFlags & { host?: HostName[]; client?: string[]; caDays: number }) => {
      const { initCertificates } = await import('../../pki/make.ts');
      const hosts = flags.host ?? DEFAULT_HOSTS.map((h) => (parseHost(h) as { host: HostName }).host);
      const set = await withSpinner('making keys and certificates', flags, () =>
        initCertificates({ ...leafOptions(flags), caDays: flags.caDays, hosts, clients: flags.client ?? [DEFAULT_CLIENT] }),
      );
      await reportMade(set, flags);
      if (!flags.quiet && !flags.json) process.stderr.write(colourFor(process.stderr).dim(nextSteps(set)));
    });

  addMakeOptions(
    certs
      .command('client')
      .summary('one more client certificate from the CA')
      .description(
        'Make a client certificate for EMAIL (CN and an rfc822Name SAN) from the CA in --dir.\n' +
          'Files are named after the identity (alice@example.org.crt; characters unsafe in file names become _) unless --name is given.',
      )
      .argument('<email>', 'the user\'s email address: the server identifies users by it')
      .option('--allow-non-email', 'accept an identity that is not an email address, to test the server\'s 400 answer'),
    true,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs client alice@example.org
  $ qtstatus certs client bob@example.org --dir tls --days 30
  $ qtstatus certs client not_an_email --allow-non-email --name bad_client   (the server answers 400)`,
    )
    .action(async (identity: string, flags: MakeFlags & { allowNonEmail?: boolean }) => {
      const { makeClient } = await import('../../pki/make.ts');
      const set = await withSpinner('making a client certificate', flags, () =>
        makeClient({ ...leafOptions(flags), identity, allowNonEmail: flags.allowNonEmail === true }),
      );
      await reportMade(set, flags);
    });

  addMakeOptions(
    certs
      .command('server')
      .summary('one more server certificate from the CA')
      .description(
        'Make a server certificate for the given names (DNS and IP SANs; CN is the first) from the\n' +
          'CA in --dir. Files are named after the first name unless --name is given.',
      )
      .requiredOption('-H, --host <name>', 'DNS name or IP address, repeatable', parseHostFlag),
    true,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs server --host status.internal --host 10.0.0.5
  $ qtstatus certs server --host localhost --host ::1 --name server --force   (replace server.crt)`,
    )
    .action(async (flags: MakeFlags & { host: HostName[] }) => {
      const { makeServer } = await import('../../pki/make.ts');
      const set = await withSpinner('making a server certificate', flags, () => makeServer({ ...leafOptions(flags), hosts: flags.host }));
      await reportMade(set, flags);
    });

  certs
    .command('inspect')
    .summary('what a certificate says')
    .description(
      'Show subject, issuer, names, validity and days left, key type and size, signature,\n' +
        'key usages, CA flag, serial and SHA-256 fingerprint of each certificate in the files\n' +
        '(PEM or DER). A private key file shows its type and whether it is encrypted.',
    )
    .argument('<file...>', 'certificate (or key) files')
    .option('--json', 'one JSON object per certificate or key, one per line')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs inspect certs/server.crt
  $ qtstatus certs inspect certs/*.crt --json | jq -r '[.file, .daysLeft] | @tsv'`,
    )
    .action(async (files: string[], flags: { json?: boolean }) => {
      const [{ certificateInfo }, read, { describeKey }] = await Promise.all([
        import('../../pki/inspect.ts'),
        import('../../pki/read.ts'),
        import('../../pki/keys.ts'),
      ]);
      for (const file of files) {
        const data = await readFile(file).catch((err: unknown) => {
          throw new QtError(ErrorCodes.FILE, `cannot read ${file}`, { cause: err, hint: 'check the path' });
        });
        const text = data.toString('latin1');
        const kinds = read.pemBlockTypes(text);
        if (kinds.length > 0 && !kinds.includes('CERTIFICATE') && kinds.some((k) => k.endsWith('PRIVATE KEY'))) {
          const encrypted = read.isEncryptedKeyPem(text);
          const key = encrypted ? undefined : describeKey(read.parsePrivateKey(data, file));
          if (flags.json) process.stdout.write(JSON.stringify({ type: 'private key', file, encrypted, ...(key ? { key } : {}) }) + '\n');
          else process.stdout.write(`${colourFor(process.stdout).bold(file)}\n  private key ${key ? key.label : 'encrypted (type unknown without the passphrase)'}\n`);
          continue;
        }
        for (const cert of read.parseCertificates(data, file)) {
          const info = certificateInfo(cert);
          if (flags.json) process.stdout.write(infoJson(file, info) + '\n');
          else printInfo(file, info);
        }
      }
    });

  certs
    .command('verify')
    .summary('will this certificate work? exit 0 if valid, 1 with the reason if not')
    .description(
      'Check a certificate against its CA: chain and signature, validity window, algorithm\n' +
        'strength, key usage for its role and its names. With --host it is checked as a server\n' +
        'certificate for that name, with --email as a client certificate for that address;\n' +
        'otherwise the role comes from its extended key usage.',
    )
    .argument('<cert>', 'certificate file')
    .option('--ca <file>', 'CA certificate(s)', join(DEFAULT_DIR, 'ca.crt'))
    .option('-H, --host <name>', 'check as a server certificate for this DNS name or IP address')
    .option('-e, --email <addr>', 'check as a client certificate for this email address')
    .option('--json', 'the result as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs verify certs/server.crt --ca certs/ca.crt --host localhost
  $ qtstatus certs verify certs/client.crt --email valid_user@qt-test.com
  $ qtstatus certs verify old/bad_client.crt --ca old/ca.crt || echo "refused"`,
    )
    .action(async (file: string, flags: { ca: string; host?: string; email?: string; json?: boolean }) => {
      if (flags.host !== undefined && flags.email !== undefined) {
        throw new QtError(ErrorCodes.USAGE, '--host and --email: give one (a certificate is checked as a server or as a client)');
      }
      const [read, { verifyCertificate }] = await Promise.all([import('../../pki/read.ts'), import('../../pki/verify.ts')]);
      const [cert, cas] = await Promise.all([read.readCertificateFile(file), read.readCertificatesFile(flags.ca, 'CA certificate')]);
      const result = verifyCertificate(cert, cas, { host: flags.host, email: flags.email });
      if (flags.json) {
        const { issuer: _issuer, ...rest } = result;
        process.stdout.write(JSON.stringify({ file, ca: flags.ca, ...rest }) + '\n');
      } else printVerify(file, result);
      const failed = result.checks.find((c) => !c.ok);
      if (failed) {
        throw new QtError(ErrorCodes.CERT_INVALID, `${file} is not valid`, { cause: failed.detail, hint: CHECK_HINTS[failed.name] });
      }
    });

  certs
    .command('p12')
    .summary('a PKCS#12 bundle of a client certificate and key')
    .description(
      'Bundle a client certificate, its key and the CA certificate into a password-protected\n' +
        'PKCS#12 file for browsers, macOS Keychain, Windows and curl. The encryption is the\n' +
        'legacy-compatible one every importer reads (3DES, SHA-1 MAC). The password comes from\n' +
        '--password-env, --password-file or a prompt.',
    )
    .argument('[cert]', 'client certificate', join(DEFAULT_DIR, 'client.crt'))
    .option('--key <file>', 'its private key (default: the certificate\'s name with .key)')
    .option('--ca <file>', 'CA certificate to include (default: ca.crt beside the certificate, if there)')
    .option('--no-ca', 'include no CA certificate')
    .option('-o, --out <file>', 'output file (default: the certificate\'s name with .p12)')
    .option('--password-env <var>', 'read the password from this environment variable', parseEnvName)
    .option('--password-file <file>', 'read the password from the first line of this file')
    .option('--name <text>', 'the name importers show (default: the certificate\'s CN)')
    .option('-f, --force', 'replace an existing output file')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs p12                                      certs/client.p12, asks for a password
  $ P12_PASSWORD=secret qtstatus certs p12 certs/alice@example.org.crt --password-env P12_PASSWORD
  $ curl --cert-type P12 --cert certs/client.p12:secret --cacert certs/ca.crt https://localhost:8443/`,
    )
    .action(
      async (
        certFile: string,
        flags: { key?: string; ca?: string | false; out?: string; passwordEnv?: string; passwordFile?: string; name?: string; force?: boolean },
      ) => {
        if (flags.passwordEnv !== undefined && flags.passwordFile !== undefined) {
          throw new QtError(ErrorCodes.USAGE, '--password-env and --password-file: give one');
        }
        const stem = certFile.replace(/\.(crt|pem|cer)$/i, '');
        const keyFile = flags.key ?? `${stem}.key`;
        const out = flags.out ?? `${stem}.p12`;
        const [read, { makePkcs12 }, files, { certificateInfo }] = await Promise.all([
          import('../../pki/read.ts'),
          import('../../pki/p12.ts'),
          import('../../pki/files.ts'),
          import('../../pki/inspect.ts'),
        ]);
        const caFile = flags.ca === false ? undefined : (flags.ca ?? join(dirname(certFile), 'ca.crt'));
        checkP12Out(out, [certFile, keyFile, caFile]);
        await files.assertCanWrite([out], flags.force === true);
        const pair = await read.readCertificateAndKey(certFile, keyFile);
        let chain: X509Certificate[] = [];
        if (caFile !== undefined && (flags.ca !== undefined || (await exists(caFile)))) chain = await read.readCertificatesFile(caFile, 'CA certificate');
        const password = await readPassword(flags);
        const info = certificateInfo(pair.certificate);
        const der = await makePkcs12({ ...pair, chain, password, friendlyName: flags.name ?? info.commonName ?? info.subject });
        await files.writeFilesAtomically([{ path: out, data: der, mode: files.KEY_MODE }], { force: flags.force === true });
        process.stderr.write(`wrote ${out} (${info.commonName ?? info.subject}${chain.length ? ` with ${chain.length} CA certificate${chain.length > 1 ? 's' : ''}` : ''}; mode 0600)\n`);
      },
    );
}
