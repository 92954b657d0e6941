// `qtstatus certs renew FILE | --expiring-within 30d`: new certificates for
// the same identities and names, with a fresh validity, over the old files.

import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../../errors.ts';
import type { KeyType } from '../../../pki/keys.ts';
import type { Renewed } from '../../../pki/renew.ts';
import { formatError } from '../../report.ts';
import { addCaOptions, caPathsFrom, parseDays, parseKeyTypeFlag, parseSpan, type CaFlags, type Quiet } from './options.ts';
import { day, say, warn } from './output.ts';

interface RenewFlags extends CaFlags, Quiet {
  expiringWithin?: number;
  key?: string;
  reuseKey?: boolean;
  days?: number;
  keyType?: KeyType;
}

function renewedJson(r: Renewed): Record<string, unknown> {
  return { cert: r.certPath, key: r.keyPath, identity: r.renewed.identity, oldSerial: r.old.serial, serial: r.renewed.serial, notAfter: r.renewed.notAfter, keyReused: r.keyReused, found: r.found, warnings: r.warnings };
}

function renewedLine(r: Renewed): string {
  return `renewed ${r.certPath}: ${r.renewed.identity}, serial ${r.old.serial} → ${r.renewed.serial}, until ${day(new Date(r.renewed.notAfter))} (${r.keyReused ? 'same key' : `new key ${r.keyPath}`})`;
}

export function registerRenew(certs: Command): void {
  addCaOptions(
    certs
      .command('renew')
      .summary('a new certificate for the same identity, before the old one expires')
      .description(
        'Issue a new certificate for the same identity and names as FILE, with a fresh validity (as long as the old one\'s unless --days), and replace its files atomically. A new key by default; --reuse-key keeps it. The old certificate is not revoked: it stays valid until it expires. With --expiring-within, every recorded certificate that expires within that time (expired ones too), neither revoked nor replaced, is renewed.',
      )
      .argument('[file]', 'the certificate to renew (its files are replaced)'),
  )
    .option('-w, --expiring-within <span>', 'renew every recorded certificate that expires within this time, e.g. 30d', parseSpan)
    .option('--key <file>', 'its key (default: the recorded one, else the certificate\'s name with .key)')
    .option('--reuse-key', 'keep the key instead of making a new one')
    .option('--days <n>', 'validity of the new certificate in days (default: as long as the old one\'s)', parseDays)
    .option('-k, --key-type <type>', 'type of a new key (default: the old key\'s type)', parseKeyTypeFlag)
    .option('--json', 'what was renewed, as JSON on stdout')
    .option('-q, --quiet', 'no messages on stderr except warnings and errors')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs renew certs/server.crt                   new key, same names, another year
  $ qtstatus certs renew certs/alice@example.org.crt --reuse-key --days 90
  $ qtstatus certs renew --expiring-within 30d              everything due within 30 days
  $ qtstatus certs bundle server /tmp/srv && scp -r /tmp/srv server:/etc/qtstatus   then SIGHUP serve`,
    )
    .action(async (file: string | undefined, flags: RenewFlags, command: Command) => {
      if ((file === undefined) === (flags.expiringWithin === undefined)) {
        throw new QtError(ErrorCodes.USAGE, file === undefined ? 'what to renew: give a certificate FILE or --expiring-within SPAN' : `give ${file} or --expiring-within, not both`);
      }
      if (flags.key !== undefined && file === undefined) throw new QtError(ErrorCodes.USAGE, '--key goes with a FILE', { hint: 'with --expiring-within, each recorded key is used' });
      const pki = await import('../../../pki/renew.ts');
      const settings = {
        ca: caPathsFrom(flags),
        reuseKey: flags.reuseKey === true,
        ...(flags.days !== undefined ? { days: flags.days } : {}),
        ...(flags.keyType ? { keyType: flags.keyType } : {}),
      };
      if (file !== undefined) {
        const r = await pki.renewCertificate({ ...settings, file, ...(flags.key !== undefined ? { keyFile: flags.key } : {}) });
        if (flags.json) process.stdout.write(JSON.stringify(renewedJson(r)) + '\n');
        for (const w of r.warnings) warn(flags, w);
        if (r.found) say(flags, `recorded ${file}: made before the record, signed by this CA`);
        say(flags, renewedLine(r));
        return;
      }
      const all = await pki.renewExpiring({ ...settings, withinMs: flags.expiringWithin as number });
      if (flags.json) {
        const skipped = all.skipped.map((s) => ({ file: s.file, serial: s.entry.serial, why: s.why }));
        const failed = all.failed.map((f) => ({ file: f.file, serial: f.entry.serial, error: formatError(f.error, command).replace(/^qtstatus: /, '') }));
        process.stdout.write(JSON.stringify({ record: all.record, renewed: all.renewed.map(renewedJson), skipped, failed }) + '\n');
      }
      for (const r of all.renewed) {
        for (const w of r.warnings) warn(flags, w);
        say(flags, renewedLine(r));
      }
      for (const s of all.skipped) warn(flags, `left ${s.file} (serial ${s.entry.serial}) alone: ${s.why}`);
      for (const f of all.failed) process.stderr.write(`${formatError(f.error, command)}\n`);
      if (all.renewed.length === 0 && all.skipped.length === 0 && all.failed.length === 0) say(flags, `nothing in ${all.record} expires within that time`);
      if (all.failed.length > 0) {
        throw new QtError(ErrorCodes.CERT, `${all.failed.length} of ${all.failed.length + all.renewed.length} renewals failed`, { hint: 'see above; the others were written' });
      }
    });
}
