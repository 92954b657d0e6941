// `qtstatus certs verify CERT`: every check, exit 0 if valid, 1 with the first failure.

import { join } from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../../errors.ts';
import type { Check, VerifyResult } from '../../../pki/verify.ts';
import { colourFor } from '../../style.ts';
import { DEFAULT_DIR } from './options.ts';

const CHECK_HINTS: Record<Check['name'], string> = {
  chain: 'give the CA that issued it with --ca, or make the certificate again from this CA',
  ca: 'make a new CA with `qtstatus certs init` in a new directory and new certificates from it',
  validity: 'renew it: `qtstatus certs renew FILE`, or make a new one with `qtstatus certs server` or `qtstatus certs client` (--force to replace)',
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

export function registerVerify(certs: Command): void {
  certs
    .command('verify')
    .summary('will this certificate work? exit 0 if valid, 1 with the reason if not')
    .description(
      'Check a certificate against its CA: chain and signature, validity window, algorithm strength, key usage for its role and its names. With --host it is checked as a server certificate for that name, with --email as a client certificate for that address; otherwise the role comes from its extended key usage.',
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
      const [read, { verifyCertificate }] = await Promise.all([import('../../../pki/read.ts'), import('../../../pki/verify.ts')]);
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
}
