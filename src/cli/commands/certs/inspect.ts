// `qtstatus certs inspect FILE…`: what certificates (or a key file) say.

import type { Command } from 'commander';
import type { CertificateInfo } from '../../../pki/inspect.ts';
import { colourFor } from '../../style.ts';
import { when } from './output.ts';

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

export function registerInspect(certs: Command): void {
  certs
    .command('inspect')
    .summary('what a certificate says')
    .description(
      'Show subject, issuer, names, validity and days left, key type and size, signature, key usages, CA flag, serial and SHA-256 fingerprint of each certificate in the files (PEM or DER). A private key file shows its type and whether it is encrypted.',
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
      const { inspectFile } = await import('../../../pki/inspect-file.ts');
      for (const file of files) {
        const found = await inspectFile(file);
        if (found.type === 'private key') {
          const { type, encrypted, key } = found;
          if (flags.json) process.stdout.write(JSON.stringify({ type, file, encrypted, ...(key ? { key } : {}) }) + '\n');
          else process.stdout.write(`${colourFor(process.stdout).bold(file)}\n  private key ${key ? key.label : 'encrypted (type unknown without the passphrase)'}\n`);
          continue;
        }
        for (const { info } of found.certificates) {
          if (flags.json) process.stdout.write(infoJson(file, info) + '\n');
          else printInfo(file, info);
        }
      }
    });
}
