// `qtstatus certs crl`: issues the next CRL (to run before the current one's
// next update, from a timer); nothing new is revoked.

import type { Command } from 'commander';
import { addCaOptions, caPathsFrom, parseCrlPeriod, type CaFlags, type Quiet } from './options.ts';
import { say, warn } from './output.ts';
import { crlJson, crlLine } from './revoke.ts';

export function registerCrl(certs: Command): void {
  addCaOptions(
    certs
      .command('crl')
      .summary('re-issue the CRL before its next update')
      .description(
        'Write a new ca.crl signed by the CA, listing every revoked certificate, with the next CRL number and a new next update. Servers that check CRLs (serve --crl, nginx ssl_crl) refuse clients once the CRL is past its next update: run this from a timer well before.',
      ),
  )
    .option('--next-update <span>', 'how long this CRL (and later ones) is current, e.g. 90d, 7d or 12h (default: as before, 90d)', parseCrlPeriod)
    .option('--json', 'the CRL written, as JSON on stdout')
    .option('-q, --quiet', 'no messages on stderr except warnings and errors')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs crl                                      certs/ca.crl, current for 90 days
  $ qtstatus certs crl --next-update 7d --dir /srv/ca       weekly, then from a daily timer:
  $ echo '0 3 * * * qtstatus certs crl --dir /srv/ca -q' | crontab -`,
    )
    .action(async (flags: CaFlags & Quiet & { nextUpdate?: number }) => {
      const { reissueCrl } = await import('../../../pki/revoke.ts');
      const r = await reissueCrl({ ca: caPathsFrom(flags), ...(flags.nextUpdate !== undefined ? { periodSeconds: flags.nextUpdate } : {}) });
      if (flags.json) process.stdout.write(JSON.stringify({ record: r.record, crl: crlJson(r.crl) }) + '\n');
      if (r.crl.carried > 0) warn(flags, `${r.crl.carried} revocation${r.crl.carried === 1 ? '' : 's'} found only in the CRL that was in place ${r.crl.carried === 1 ? 'is' : 'are'} kept and now recorded`);
      say(flags, crlLine(r.crl));
    });
}
