// How the `certs` subcommands talk: what was made, warnings, dates, and the
// one-time explanation of which files go where. Data to stdout, messages to
// stderr, colour only for people (../../style.ts).

import type { CertificateInfo } from '../../../pki/inspect.ts';
import type { MadeSet } from '../../../pki/make.ts';
import { colourFor, isInteractive } from '../../style.ts';
import type { Quiet } from './options.ts';

export function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function when(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "in 12 days", "within a day", "3 days ago" (rounded to whole days). */
export function relativeDays(date: Date, now = new Date()): string {
  const ms = date.getTime() - now.getTime();
  const days = Math.round(ms / 86_400_000);
  if (days === 0) return ms > 0 ? 'within a day' : 'less than a day ago';
  return days > 0 ? `in ${days} day${days === 1 ? '' : 's'}` : `${-days} day${days === -1 ? '' : 's'} ago`;
}

export function namesOf(info: CertificateInfo): string {
  const n = info.names;
  const all = [...n.dns, ...n.ip, ...n.email];
  return all.length ? all.join(', ') : (info.commonName ?? info.subject);
}

/** Messages for people on stderr; none with --quiet or --json. */
export function say(opts: Quiet, text: string): void {
  if (!opts.quiet && !opts.json) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Warnings on stderr always (also with --json and --quiet). */
export function warn(opts: Quiet, text: string): void {
  process.stderr.write(colourFor(process.stderr, opts.json).yellow(`warning: ${text}\n`));
}

/** Runs `work` under a spinner when a person is watching stderr. */
export async function withSpinner<T>(text: string, opts: Quiet, work: () => Promise<T>): Promise<T> {
  if (opts.quiet || !isInteractive(process.stderr, opts.json)) return work();
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: process.stderr }).start();
  try {
    return await work();
  } finally {
    spinner.stop();
  }
}

export async function reportMade(set: MadeSet, opts: Quiet): Promise<void> {
  const { certificateInfo } = await import('../../../pki/inspect.ts');
  const entries = [set.ca, ...set.made].map((m) => ({ made: m, info: certificateInfo(m.certificate) }));
  if (opts.json) {
    const certificates = entries.map(({ made, info }) => ({
      role: made.role,
      cert: made.certPath,
      key: made.keyPath,
      reused: made.reused === true,
      subject: info.subject,
      serial: info.serial,
      names: info.names,
      notAfter: info.notAfter.toISOString(),
      keyType: info.key.label,
    }));
    process.stdout.write(JSON.stringify({ dir: set.dir, certificates, record: set.record, ...(set.crl ? { crl: set.crl } : {}), warnings: set.warnings }) + '\n');
  }
  for (const w of set.warnings) warn(opts, w);
  if (opts.quiet || opts.json) return;
  const c = colourFor(process.stderr);
  for (const { made, info } of entries) {
    const label = made.role === 'ca' ? (made.reused ? 'CA (kept)' : 'CA (new)') : made.role;
    const what = made.role === 'ca' ? info.subject : namesOf(info);
    const files = made.reused ? made.certPath : `${made.certPath} ${made.keyPath}`;
    process.stderr.write(`${c.bold(label.padEnd(10))} ${files}\n${' '.repeat(11)}${c.dim(`${what}; ${info.key.label}; until ${day(info.notAfter)}`)}\n`);
  }
}
