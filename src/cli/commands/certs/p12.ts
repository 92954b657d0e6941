// `qtstatus certs p12 [CERT]`: a PKCS#12 bundle of a client certificate, its
// key and the CA, for browsers, macOS Keychain and Windows.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../../errors.ts';
import { readSecret } from '../../prompt.ts';
import { DEFAULT_DIR, parseEnvName } from './options.ts';

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

interface P12Flags {
  key?: string;
  ca?: string | false;
  out?: string;
  passwordEnv?: string;
  passwordFile?: string;
  name?: string;
  force?: boolean;
}

export function registerP12(certs: Command): void {
  certs
    .command('p12')
    .summary('a PKCS#12 bundle of a client certificate and key')
    .description(
      'Bundle a client certificate, its key and the CA certificate into a password-protected PKCS#12 file for browsers, macOS Keychain, Windows and curl. The encryption is the legacy-compatible one every importer reads (3DES, SHA-1 MAC). The password comes from --password-env, --password-file or a prompt.',
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
    .action(async (certFile: string, flags: P12Flags) => {
      if (flags.passwordEnv !== undefined && flags.passwordFile !== undefined) {
        throw new QtError(ErrorCodes.USAGE, '--password-env and --password-file: give one');
      }
      const [p12, files, { certificateInfo }] = await Promise.all([import('../../../pki/p12.ts'), import('../../../pki/files.ts'), import('../../../pki/inspect.ts')]);
      const paths = p12.p12Files(certFile, flags);
      const refused = p12.p12OutProblem(paths);
      if (refused) {
        throw new QtError(ErrorCodes.USAGE, `--out: ${refused.problem}`, {
          hint: refused.caFile ? 'only `qtstatus certs init`, revoke and crl write CA files; give another --out' : "give another --out, e.g. the certificate's name with .p12",
        });
      }
      await files.assertCanWrite([paths.out], flags.force === true);
      const inputs = await p12.readP12Inputs(paths);
      const password = await readPassword(flags);
      const info = certificateInfo(inputs.certificate);
      const der = await p12.makePkcs12({ ...inputs, password, friendlyName: flags.name ?? info.commonName ?? info.subject });
      await files.writeFilesAtomically([{ path: paths.out, data: der, mode: files.KEY_MODE }], { force: flags.force === true });
      const n = inputs.chain.length;
      process.stderr.write(`wrote ${paths.out} (${info.commonName ?? info.subject}${n ? ` with ${n} CA certificate${n > 1 ? 's' : ''}` : ''}; mode 0600)\n`);
    });
}
