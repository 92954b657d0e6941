// `qtstatus users add`: the addresses given, or a million from a file or
// standard input: every line checked first (nothing written if one is
// bad), then added in batches, one transaction each (issue #11).

import { ErrorCodes, QtError } from '../../../errors.ts';
import { emailRefusal, refusalText } from '../../../protocol/email.ts';
import type { Store } from '../../../store/store.ts';
import { escapeText, safeJson } from '../../escape.ts';
import { isInteractive } from '../../style.ts';
import { nowNs, withStore, type DbOption } from './common.ts';
import { isSkipped, lineRefusal, lineSource, shown } from './lines.ts';

export interface AddOptions extends DbOption {
  from?: string;
}

/** Addresses per transaction (SQLite) or statement (PostgreSQL). */
export const BATCH = 10_000;
/** Bad lines listed before the summary; the rest are counted. */
export const MAX_BAD_SHOWN = 20;

interface Progress {
  text: string;
  stop(): void;
}

async function progress(json: boolean | undefined, text: string): Promise<Progress | undefined> {
  if (!isInteractive(process.stderr, json)) return undefined;
  const { default: ora } = await import('ora');
  return ora({ text, stream: process.stderr }).start();
}

/** Adds in batches; how many addresses were given and how many were new (and which, when `which` is asked for). */
async function addInBatches(store: Store, batches: AsyncIterable<string[]>, now: bigint, onBatch: (done: number, added: number) => void, which?: Set<string>): Promise<{ given: number; added: number }> {
  let added = 0;
  let given = 0;
  for await (const batch of batches) {
    const fresh = await store.addUsers(batch, now);
    added += fresh.length;
    given += batch.length;
    if (which) for (const e of fresh) which.add(e);
    onBatch(given, added);
  }
  return { given, added };
}

async function* inBatches<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

async function addFromFile(opts: AddOptions): Promise<void> {
  const source = lineSource(opts.from as string);
  const spinner = await progress(opts.json, `checking ${source.name}`);
  try {
    // 1. Every line checked before anything is written.
    let addresses = 0;
    let skipped = 0;
    let badCount = 0;
    const bad: string[] = [];
    for await (const l of source.lines()) {
      if (!l.long && isSkipped(l.text)) {
        skipped++;
        continue;
      }
      const why = lineRefusal(l);
      if (why === undefined) {
        addresses++;
        if (spinner && addresses % BATCH === 0) spinner.text = `checking ${source.name}: ${addresses} addresses`;
        continue;
      }
      badCount++;
      if (bad.length < MAX_BAD_SHOWN) bad.push(`  line ${l.no}: ${shown(l.text)} (${refusalText(why)})\n`);
    }
    if (badCount > 0) {
      spinner?.stop();
      const more = badCount > bad.length ? `  … and ${plural(badCount - bad.length, 'more bad line')}\n` : '';
      process.stderr.write(bad.join('') + more);
      throw new QtError(ErrorCodes.USAGE, `${plural(badCount, 'line')} of ${source.name} ${badCount === 1 ? 'is not an email address' : 'are not email addresses'} (line numbers above); nothing was added`, {
        hint: 'one address per line; blank lines and lines starting with # are skipped; fix or remove the bad lines and run again',
      });
    }
    // 2. Written in batches. Standard input is replayed; a file is read
    //    again and every line checked again, in case it changed meanwhile.
    const now = nowNs();
    const { given, added } = await withStore(opts.db, async (store) => {
      const valid = async function* (): AsyncGenerator<string> {
        for await (const l of source.lines()) {
          if (!l.long && isSkipped(l.text)) continue;
          if (lineRefusal(l) !== undefined) {
            throw new QtError(ErrorCodes.FILE, `${source.name} changed while it was being added: line ${l.no} is no longer an email address`, {
              hint: 'the batches before it were added; fix the file and run again (addresses already there are skipped)',
            });
          }
          yield l.text;
        }
      };
      return addInBatches(store, inBatches(valid(), BATCH), now, (done, n) => {
        if (spinner) spinner.text = `adding to ${store.description}: ${done} of ${addresses} (${n} new)`;
      });
    });
    spinner?.stop();
    const existing = given - added;
    if (opts.json) process.stdout.write(safeJson({ added, alreadyThere: existing, addresses: given, skippedLines: skipped }) + '\n');
    process.stderr.write(`added ${added}, already there ${existing} (${plural(given, 'address', 'addresses')} from ${escapeText(source.name)}${skipped > 0 ? `; ${plural(skipped, 'blank or comment line')} skipped` : ''})\n`);
  } finally {
    spinner?.stop();
  }
}

async function addGiven(given: string[], opts: AddOptions): Promise<void> {
  const emails = [...new Set(given)];
  const bad = emails.flatMap((e) => {
    const why = emailRefusal(e);
    return why === undefined ? [] : [`${JSON.stringify(e)} (${refusalText(why)})`];
  });
  if (bad.length > 0) {
    throw new QtError(ErrorCodes.USAGE, `not an email address: ${bad.join(', ')}`, {
      hint: 'users are the email addresses in client certificate CNs',
    });
  }
  const fresh = new Set<string>();
  const { added } = await withStore(opts.db, (s) => addInBatches(s, inBatches(emails, BATCH), nowNs(), () => {}, fresh));
  if (opts.json) process.stdout.write(safeJson({ added, alreadyThere: emails.length - added, addresses: emails.length }) + '\n');
  else for (const e of emails) process.stderr.write(`${fresh.has(e) ? 'added' : 'exists'} ${escapeText(e)}\n`);
}

export async function addAction(given: string[], opts: AddOptions): Promise<void> {
  if (opts.from !== undefined && given.length > 0) {
    throw new QtError(ErrorCodes.USAGE, 'give the addresses either as arguments or with --from, not both');
  }
  if (opts.from === undefined && given.length === 0) {
    throw new QtError(ErrorCodes.USAGE, 'no addresses: give them as arguments, or --from FILE (- for standard input)');
  }
  if (opts.from !== undefined) await addFromFile(opts);
  else await addGiven(given, opts);
}
