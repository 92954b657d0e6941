// `qtstatus certs list`: every certificate the CA issued, from its record,
// with its expiry and state; certificates made before the record existed,
// found in the CA's directory by their signature, are shown apart.

import type { Command } from 'commander';
import type { ListedCertificate, Listing } from '../../../pki/list.ts';
import { colourFor } from '../../style.ts';
import { addCaOptions, caPathsFrom, type CaFlags } from './options.ts';
import { day } from './output.ts';

function json(l: Listing): string {
  const row = ({ file, ...c }: ListedCertificate) => ({ ...c, file });
  return (
    JSON.stringify({
      ca: { file: l.caPath, subject: l.ca.subject.replace(/\n/g, ', '), notAfter: l.ca.validToDate.toISOString() },
      record: l.paths.record,
      recorded: l.hasRecord,
      certificates: l.certificates.map(row),
      unrecorded: l.unrecorded.map(row),
      revokedUnknown: l.revokedUnknown,
    }) + '\n'
  );
}

function table(rows: ListedCertificate[]): string {
  const c = colourFor(process.stdout);
  const state = (r: ListedCertificate) =>
    r.status === 'revoked' ? `revoked${r.revoked?.reason ? ` (${r.revoked.reason})` : ''}` : r.status === 'replaced' ? `replaced by ${r.replacedBy?.slice(0, 8)}…` : r.status;
  const cells = rows.map((r) => [r.identity, r.role, r.serial, day(new Date(r.notAfter)), String(r.daysLeft), state(r), r.file]);
  const head = ['identity', 'role', 'serial', 'expires', 'days', 'state', 'file'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (row: string[]) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i] as number))).join('  ');
  const paint = (r: ListedCertificate, text: string) =>
    r.status === 'revoked' || r.status === 'expired' ? c.red(text) : r.status === 'replaced' ? c.dim(text) : r.daysLeft < 30 ? c.yellow(text) : text;
  return [c.bold(line(head)), ...cells.map((row, i) => paint(rows[i] as ListedCertificate, line(row)))].join('\n') + '\n';
}

export function registerList(certs: Command): void {
  addCaOptions(
    certs
      .command('list')
      .summary('the certificates the CA issued: expiry, days left, revoked or not')
      .description(
        'List the certificates recorded in the CA\'s ca-index.json: identity, role, serial, expiry and days left, and whether each is valid, expired, revoked (with the reason) or replaced by a renewal. Certificates in the CA\'s directory signed by the CA but made before the record existed are listed apart as not recorded. Needs ca.crt, not the CA key.',
      ),
    false,
  )
    .option('--json', 'one JSON document on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs list
  $ qtstatus certs list --dir /srv/ca --json | jq -r '.certificates[] | select(.daysLeft < 30) | .file'`,
    )
    .action(async (flags: CaFlags & { json?: boolean }) => {
      const { listIssued } = await import('../../../pki/list.ts');
      const l = await listIssued(caPathsFrom(flags).certPath);
      if (flags.json) {
        process.stdout.write(json(l));
        return;
      }
      const c = colourFor(process.stderr);
      process.stderr.write(c.dim(`CA ${l.ca.subject.replace(/\n/g, ', ')} (${l.caPath}), until ${day(l.ca.validToDate)}\n`));
      if (l.certificates.length > 0) process.stdout.write(table(l.certificates));
      else if (l.hasRecord) process.stderr.write(`${l.paths.record} records no certificate yet\n`);
      if (!l.hasRecord) {
        process.stderr.write(`${l.paths.record} does not exist yet: certificates made before qtstatus recorded them are not recorded\n`);
      }
      if (l.unrecorded.length > 0) {
        process.stderr.write(`not recorded (made before the record; found in ${l.paths.dir} by the CA's signature; \`qtstatus certs renew FILE\` or \`revoke FILE\` records one):\n`);
        process.stdout.write(table(l.unrecorded));
      }
      if (l.revokedUnknown.length > 0) {
        process.stderr.write(`also revoked by an earlier CRL, certificates not recorded: ${l.revokedUnknown.map((u) => u.serial).join(', ')}\n`);
      }
    });
}
