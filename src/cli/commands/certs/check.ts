// `qtstatus certs check [--within 30d]`: exit 1 when a certificate the CA
// issued, the CA or the CRL expires within that time, for cron and CI.

import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../../errors.ts';
import type { ExpiryItem } from '../../../pki/expiry.ts';
import { colourFor } from '../../style.ts';
import { addCaOptions, caPathsFrom, parseSpan, spanText, type CaFlags } from './options.ts';
import { day, relativeDays } from './output.ts';

const DEFAULT_WITHIN = '30d';

function label(i: ExpiryItem): string {
  if (i.kind === 'ca') return `the CA ${i.what}`;
  if (i.kind === 'crl') return i.what;
  return `${i.what}${i.recorded === false ? ' (not recorded)' : ''}`;
}

const HINTS: Record<ExpiryItem['kind'], (within: string) => string> = {
  certificate: (within) => `qtstatus certs renew --expiring-within ${within}`,
  crl: () => 'qtstatus certs crl',
  ca: () => 'a new CA in another directory (`qtstatus certs init`) and new certificates from it',
};

export function registerCheck(certs: Command): void {
  addCaOptions(
    certs
      .command('check')
      .summary('exit 1 if a certificate, the CA or the CRL expires soon')
      .description(
        'Check when every certificate the CA issued and still in use (neither revoked nor replaced), the CA and its CRL expire; exit 1 when one does within --within (or has already), naming it and what to run. Needs ca.crt, not the CA key.',
      ),
    false,
  )
    .option('-w, --within <span>', `how far ahead to look, e.g. 30d, 2w or 12h (default ${DEFAULT_WITHIN})`, parseSpan)
    .option('--json', 'every item as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs check                                    anything due within 30 days?
  $ qtstatus certs check --within 7d --dir /srv/ca || mail -s "qtstatus certs" ops < /dev/null
  $ qtstatus certs check --json | jq '.due'`,
    )
    .action(async (flags: CaFlags & { within?: number; json?: boolean }) => {
      const { checkExpiry } = await import('../../../pki/expiry.ts');
      const withinMs = flags.within ?? parseSpan(DEFAULT_WITHIN);
      const withinText = spanText(withinMs);
      const r = await checkExpiry(caPathsFrom(flags).certPath, withinMs);
      const iso = (i: ExpiryItem) => ({ ...i, expiresAt: i.expiresAt.toISOString() });
      if (flags.json) process.stdout.write(JSON.stringify({ ok: r.due.length === 0, withinMs: r.withinMs, items: r.items.map(iso), due: r.due.map(iso), notes: r.notes }) + '\n');
      else {
        const c = colourFor(process.stdout);
        for (const i of r.items) {
          const mark = i.due ? c.red('DUE ') : c.green('ok  ');
          process.stdout.write(`${mark} ${i.kind.padEnd(11)} ${label(i)}: ${i.file} ${i.kind === 'crl' ? 'next update' : 'expires'} ${day(i.expiresAt)} (${relativeDays(i.expiresAt)})\n`);
        }
        for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      }
      if (r.due.length > 0) {
        const what = r.due.map((i) => `${label(i)} (${i.file}, ${relativeDays(i.expiresAt)})`).join('; ');
        const hints = [...new Set(r.due.map((i) => HINTS[i.kind](withinText)))];
        throw new QtError(ErrorCodes.CERT_INVALID, `${r.due.length} expire${r.due.length === 1 ? 's' : ''} within ${withinText}: ${what}`, { hint: hints.join('; ') });
      }
    });
}
