// `qtstatus certs revoke EMAIL | FILE | --serial HEX`: takes certificates
// back and writes a fresh CRL signed by the CA (ca.crl).

import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { ErrorCodes, QtError, isQtError } from '../../../errors.ts';
import type { RevocationReason } from '../../../pki/crl.ts';
import type { PublishedCrl, RevokeTarget } from '../../../pki/revoke.ts';
import type { RecordedCertificate } from '../../../pki/record.ts';
import { addCaOptions, caPathsFrom, parseCrlPeriod, parseReason, parseSerial, type CaFlags, type Quiet } from './options.ts';
import { day, relativeDays, say, warn } from './output.ts';

interface RevokeFlags extends CaFlags, Quiet {
  serial?: string;
  reason?: RevocationReason;
  nextUpdate?: number;
}

/** "wrote certs/ca.crl: CRL number 3, 2 revoked, next update 2027-03-01 (in 90 days)". */
export function crlLine(crl: PublishedCrl): string {
  return `wrote ${crl.path}: CRL number ${crl.number}, ${crl.revoked} revoked, next update ${day(crl.nextUpdate)} (${relativeDays(crl.nextUpdate)})`;
}

export function crlJson(crl: PublishedCrl): Record<string, unknown> {
  return { ...crl, thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString() };
}


/** A FILE when one is there, else an identity (EMAIL or host name). */
async function targetOf(target: string | undefined, serial: string | undefined): Promise<RevokeTarget> {
  if (serial !== undefined && target !== undefined) throw new QtError(ErrorCodes.USAGE, `give ${target} or --serial, not both`);
  if (serial !== undefined) return { serial };
  if (target === undefined) throw new QtError(ErrorCodes.USAGE, 'what to revoke: give an EMAIL, a certificate FILE or --serial HEX', { hint: '`qtstatus certs list` shows what was issued' });
  const isFile = await stat(target).then((s) => s.isFile(), () => false);
  return isFile ? { file: target } : { identity: target };
}

export function registerRevoke(certs: Command): void {
  addCaOptions(
    certs
      .command('revoke')
      .summary('take certificates back and publish a new CRL')
      .description(
        'Mark certificates revoked in the CA\'s record and write a fresh CRL signed by the CA (ca.crl beside ca.crt; RFC 5280: CRL number, authority key identifier, the reason). EMAIL (or a server\'s host name) revokes every certificate of that identity still valid; FILE revokes that certificate; --serial revokes one certificate. Certificates made before the record (a FILE, or in the CA\'s directory) are recorded first, once the CA\'s signature on them is checked. Copy ca.crl to where `serve --crl` reads it: serve reloads it when it changes.',
      )
      .argument('[target]', 'EMAIL, host name or certificate FILE'),
  )
    .option('-s, --serial <hex>', 'the serial number of a recorded certificate (`certs list`)', parseSerial)
    .option('-r, --reason <reason>', 'RFC 5280 reason: keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn … (default: none given)', parseReason)
    .option('--next-update <span>', 'how long this CRL (and later ones) is current, e.g. 90d or 12h (default: as before, 90d)', parseCrlPeriod)
    .option('--json', 'what was revoked and the CRL, as JSON on stdout')
    .option('-q, --quiet', 'no messages on stderr except warnings and errors')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs revoke alice@example.org --reason affiliationChanged   she left
  $ qtstatus certs revoke certs/laptop.crt --reason keyCompromise          a lost device
  $ qtstatus certs revoke --serial 5E19DE61B25BBB715BA2DFB4C145221F29612DE2
  $ scp certs/ca.crl server:/etc/qtstatus/ca.crl                          serve --crl reloads it`,
    )
    .action(async (target: string | undefined, flags: RevokeFlags) => {
      const what = await targetOf(target, flags.serial);
      const { revokeCertificates } = await import('../../../pki/revoke.ts');
      const r = await revokeCertificates({
        ca: caPathsFrom(flags),
        target: what,
        ...(flags.reason ? { reason: flags.reason } : {}),
        ...(flags.nextUpdate !== undefined ? { periodSeconds: flags.nextUpdate } : {}),
      }).catch((err: unknown) => {
        if (isQtError(err) && err.code === ErrorCodes.NOT_FOUND) {
          throw new QtError(err.code, err.message, {
            cause: err.cause,
            hint: '`qtstatus certs list` shows what is recorded; `qtstatus certs revoke FILE` records and revokes a certificate made before the record',
          });
        }
        throw err;
      });
      if (flags.json) process.stdout.write(JSON.stringify({ record: r.record, revoked: r.revoked, already: r.already, found: r.found, crl: crlJson(r.crl) }) + '\n');
      const { recordedFile } = await import('../../../pki/revoke.ts');
      const caCert = caPathsFrom(flags).certPath;
      const who = (c: RecordedCertificate) => `${c.identity} (serial ${c.serial}, ${c.role}, ${recordedFile(caCert, c)})`;
      for (const c of r.found) say(flags, `recorded ${recordedFile(caCert, c)}: made before the record, signed by this CA`);
      for (const c of r.revoked) say(flags, `revoked ${who(c)}${c.revoked?.reason ? `: ${c.revoked.reason}` : ''}`);
      for (const c of r.already) say(flags, `already revoked on ${day(new Date(c.revoked?.at ?? 0))}: ${who(c)}`);
      if (r.crl.carried > 0) warn(flags, `${r.crl.carried} revocation${r.crl.carried === 1 ? '' : 's'} found only in the CRL that was in place ${r.crl.carried === 1 ? 'is' : 'are'} kept and now recorded`);
      say(flags, crlLine(r.crl));
      if (r.revoked.length > 0) say(flags, `next: copy ${r.crl.path} to the server (\`serve --crl\` picks it up; SIGHUP reloads at once)`);
    });
}
