// `qtstatus users`: the registry the server checks (issues #4, #11).
//
// Built for a million users: `add --from` checks every line first and
// writes nothing if one is bad, then adds in batches (one transaction
// each); `list` streams rows from the store to stdout as they come, with
// the pipe's backpressure, so its memory stays flat whatever the number.

import { Option, InvalidArgumentError, type Command } from 'commander';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, QtError } from '../../errors.ts';
import { hostPort } from '../../net/address.ts';
import { emailRefusal, refusalText, type EmailRefusal } from '../../protocol/email.ts';
import { nsToIso } from '../../protocol/time.ts';
import { DEFAULT_DB, openStore } from '../../store/open.ts';
import type { ListQuery, Store, UserRecord } from '../../store/store.ts';
import { escapeText, safeJson } from '../escape.ts';
import { colourFor, isInteractive } from '../style.ts';

interface DbOption {
  db: string;
  json?: boolean;
}

interface AddOptions extends DbOption {
  from?: string;
}

interface ListOptions extends DbOption {
  sort: 'email' | 'last-seen';
  seenWithin?: number;
  notSeenWithin?: number;
}

/** Addresses per transaction (SQLite) or statement (PostgreSQL). */
const BATCH = 10_000;
/** Bad lines listed before the summary; the rest are counted. */
const MAX_BAD_SHOWN = 20;
/** A line longer than this is refused without being kept whole (an address has at most 320 characters). */
const MAX_LINE = 4096;
/** Shown of a bad line. */
const SHOWN_CHARS = 100;
/** `users list`: output is written in pieces of about this size, each after the last one drained. */
const WRITE_CHUNK = 32 * 1024;
/** `users list`: the text table's column widths come from this many first rows. */
const FIRST_PAGE = 1000;

async function withStore<T>(db: string, fn: (s: Store) => Promise<T>, opts: { mustExist?: boolean } = {}): Promise<T> {
  const store = await openStore(db, { ...opts, env: process.env });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/** "3s", "5m", "2h", "4d" ago. */
export function age(ns: bigint, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round((nowMs - Number(ns / 1_000_000n)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

const AGE_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30s", "5m", "1d", "2w", "1d12h" or a bare number of seconds → milliseconds (for --seen-within). */
export function parseAge(value: string): number {
  const text = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
      throw new InvalidArgumentError(`"${value}" is not a duration (try 90s, 5m, 12h, 1d or 2w)`);
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (AGE_UNITS_MS[p[2] as string] ?? 0), 0);
  }
  if (!Number.isSafeInteger(Math.round(ms))) throw new InvalidArgumentError(`"${value}" is too long`);
  return Math.round(ms);
}

function userJson(u: UserRecord, nowMs = Date.now()) {
  return {
    email: u.email,
    createdAt: nsToIso(u.createdNs),
    lastSeenNs: u.lastSeenNs?.toString() ?? null,
    lastSeen: u.lastSeenNs === null ? null : nsToIso(u.lastSeenNs),
    ageSeconds: u.lastSeenNs === null ? null : Math.max(0, Math.round((nowMs - Number(u.lastSeenNs / 1_000_000n)) / 1000)),
    ip: u.ip,
    port: u.port,
  };
}

function userRow(u: UserRecord, nowMs: number): string[] {
  const email = escapeText(u.email);
  if (u.lastSeenNs === null) return [email, 'never', '', '', ''];
  return [email, nsToIso(u.lastSeenNs).replace(/\.(\d{3})\d{6}Z$/, '.$1Z'), age(u.lastSeenNs, nowMs), escapeText(u.ip ?? ''), String(u.port ?? '')];
}

const HEADER = ['EMAIL', 'LAST SEEN (UTC)', 'AGE', 'IP', 'PORT'];

const tableLine = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';

const dbOption = ['--db <file|url>', 'SQLite file or postgres:// URL', DEFAULT_DB] as const;

// ---- users add --------------------------------------------------------------

interface Line {
  /** 1-based. */
  no: number;
  text: string;
  /** Longer than MAX_LINE: `text` is only its start. */
  long: boolean;
}

/**
 * The lines of a file or of standard input ('-'), as text (UTF-8, a BOM at
 * the start dropped, CRLF or LF). `again()` reads them a second time: a file
 * is read again, standard input is replayed from the bytes kept the first
 * time (the input's size, never more).
 */
function lineSource(from: string): { lines: () => AsyncGenerator<Line>; name: string } {
  const stdin = from === '-';
  const kept: Buffer[] = [];
  let first = true;
  const chunks = async function* (): AsyncGenerator<Buffer> {
    if (stdin && !first) {
      yield* kept;
      return;
    }
    const input = stdin ? process.stdin : createReadStream(from, { highWaterMark: 256 * 1024 });
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        if (stdin) kept.push(chunk);
        yield chunk;
      }
    } catch (err) {
      throw new QtError(ErrorCodes.FILE, `cannot read ${stdin ? 'standard input' : from}`, { cause: err });
    } finally {
      first = false;
    }
  };
  async function* lines(): AsyncGenerator<Line> {
    const decoder = new StringDecoder('utf8');
    let no = 0;
    // The line so far; once it is longer than MAX_LINE, only its start is
    // kept (`long`) and the rest of it is dropped as it comes.
    let rest = '';
    let long = false;
    const line = (text: string): Line => {
      no++;
      if (!long && text.endsWith('\r')) text = text.slice(0, -1);
      if (no === 1 && text.startsWith('\ufeff')) text = text.slice(1);
      const l = { no, text, long };
      rest = '';
      long = false;
      return l;
    };
    const more = (text: string) => {
      if (long) return;
      rest += text;
      if (rest.length > MAX_LINE) {
        long = true;
        rest = rest.slice(0, SHOWN_CHARS + 1);
      }
    };
    for await (const chunk of chunks()) {
      const text = decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        more(text.slice(start, nl));
        start = nl + 1;
        yield line(rest);
      }
      more(text.slice(start));
    }
    more(decoder.end());
    if (rest !== '' || long) yield line(rest);
  }
  return { lines, name: stdin ? 'standard input' : from };
}

const isSkipped = (text: string) => /^\s*(#|$)/.test(text);

function lineRefusal(l: Line): EmailRefusal | undefined {
  return l.long ? 'bad_length' : emailRefusal(l.text);
}

function shown(text: string): string {
  const cut = [...text];
  const head = cut.length > SHOWN_CHARS ? `${cut.slice(0, SHOWN_CHARS).join('')}…` : text;
  return escapeText(JSON.stringify(head));
}

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

// ---- users list --------------------------------------------------------------

/**
 * Writes to stdout at the pace the reader takes it: a piece at a time, the
 * next after 'drain'. Resolves false once the reader has gone (EPIPE, a
 * closed pipe: `| head`), and the caller stops.
 */
class Output {
  private buf = Buffer.allocUnsafeSlow(WRITE_CHUNK);
  private used = 0;
  private gone = false;
  private readonly out = process.stdout;
  private wake: (() => void) | undefined;

  constructor() {
    const stop = () => {
      this.gone = true;
      this.wake?.();
    };
    this.out.on('error', stop);
    this.out.on('close', stop);
  }

  get closed(): boolean {
    return this.gone;
  }

  /** Queues `text`; once WRITE_CHUNK bytes are queued, waits until the stream takes them. */
  async write(text: string): Promise<boolean> {
    if (this.used + text.length * 3 > this.buf.length) {
      await this.flush();
      if (text.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafeSlow(text.length * 3);
    }
    this.used += this.buf.write(text, this.used);
    return !this.gone;
  }

  async flush(): Promise<void> {
    if (this.gone || this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    // The stream may hold on to the chunk until it is written: a new one for what follows.
    this.buf = Buffer.allocUnsafeSlow(Math.max(WRITE_CHUNK, this.buf.length));
    this.used = 0;
    if (this.out.write(chunk)) return;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.out.once('drain', resolve);
    });
    this.out.off('drain', this.wake as () => void);
    this.wake = undefined;
  }
}

function describeQuery(opts: ListOptions): string {
  const parts = [];
  if (opts.seenWithin !== undefined) parts.push(`seen within ${formatAge(opts.seenWithin)}`);
  if (opts.notSeenWithin !== undefined) parts.push(`not seen within ${formatAge(opts.notSeenWithin)}`);
  return parts.join(' and ');
}

function formatAge(ms: number): string {
  for (const [unit, size] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

async function list(opts: ListOptions): Promise<void> {
  const nowMs = Date.now();
  const now = BigInt(nowMs) * 1_000_000n;
  const query: ListQuery = { order: opts.sort };
  if (opts.seenWithin !== undefined) query.seenSinceNs = now - BigInt(opts.seenWithin) * 1_000_000n;
  if (opts.notSeenWithin !== undefined) query.notSeenSinceNs = now - BigInt(opts.notSeenWithin) * 1_000_000n;
  const out = new Output();
  await withStore(opts.db, async (store) => {
    let n = 0;
    if (opts.json) {
      for await (const u of store.listUsers(query)) {
        n++;
        if (!(await out.write(safeJson(userJson(u, nowMs)) + '\n'))) break;
      }
    } else {
      const c = colourFor(process.stdout);
      // The first page sets the column widths; a longer value further down
      // only pushes its own line out.
      let first: string[][] | undefined = [];
      let widths: number[] = [];
      const start = async () => {
        const rows = first as string[][];
        widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
        first = undefined;
        const head = tableLine(HEADER, widths);
        await out.write(`${c.bold(head.slice(0, -1))}\n`);
        for (const r of rows) await out.write(tableLine(r, widths));
      };
      for await (const u of store.listUsers(query)) {
        n++;
        if (first) {
          first.push(userRow(u, nowMs));
          if (first.length === FIRST_PAGE) await start();
        } else if (!(await out.write(tableLine(userRow(u, nowMs), widths)))) break;
        if (out.closed) break;
      }
      if (first && first.length > 0) await start();
    }
    await out.flush();
    if (n === 0 && !opts.json) {
      const which = describeQuery(opts);
      process.stderr.write(which ? `no users ${which} in ${escapeText(store.description)}\n` : `no users in ${escapeText(store.description)} (add some: qtstatus users add EMAIL)\n`);
    }
  }, { mustExist: true });
}

// ---- the commands --------------------------------------------------------------

export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .summary('add, list, show and remove users')
    .description('The users the server accepts: a CA-verified client whose CN is not here gets 403.');

  users
    .command('add')
    .argument('[email...]', 'email addresses (certificate CNs)')
    .description(
      'Register users: the addresses given, or one per line from a file or standard input.\n' +
        'Adding one that exists changes nothing.\n\n' +
        `With --from, every line is checked first: if any is not an email address, nothing is added,\n` +
        `and the bad lines are listed with their line numbers (the first ${MAX_BAD_SHOWN}; exit code 2). Blank lines\n` +
        'and lines starting with # are skipped; CRLF line ends are fine; nothing is trimmed (an address\n' +
        `starting with # goes on the command line). Then the addresses are added ${BATCH} at a time, each batch in\n` +
        'one transaction: if it is interrupted, what was added stays, and running it again adds the rest.\n' +
        'A summary (added N, already there M) goes to stderr; a repeated line counts as already there.',
    )
    .option('-f, --from <file>', 'read addresses from FILE, one per line; - for standard input')
    .option(...dbOption)
    .option('--json', 'print the counts as one JSON object on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  $ qtstatus users add alice@example.com bob@example.com\n  $ qtstatus users add --from staff.txt\n  $ ldap-export | qtstatus users add --from - --db postgres://qt@db/qtstatus',
    )
    .action(async (given: string[], opts: AddOptions) => {
      if (opts.from !== undefined && given.length > 0) {
        throw new QtError(ErrorCodes.USAGE, 'give the addresses either as arguments or with --from, not both');
      }
      if (opts.from === undefined && given.length === 0) {
        throw new QtError(ErrorCodes.USAGE, 'no addresses: give them as arguments, or --from FILE (- for standard input)');
      }
      if (opts.from !== undefined) await addFromFile(opts);
      else await addGiven(given, opts);
    });

  users
    .command('list')
    .description(
      'List users with when and from where each was last seen. The list streams: it starts at once\n' +
        'and its memory stays the same for a hundred users or a million.',
    )
    .option(...dbOption)
    .addOption(
      new Option('--sort <key>', 'email, or last-seen: the most recently seen first, never-seen users last')
        .choices(['email', 'last-seen'])
        .default('email'),
    )
    .addOption(new Option('--seen-within <duration>', 'only users seen at or after now minus DURATION (90s, 5m, 12h, 1d, 2w)').argParser(parseAge))
    .addOption(new Option('--not-seen-within <duration>', 'only users never seen, or last seen before now minus DURATION').argParser(parseAge))
    .option('--json', 'one JSON object per line (NDJSON)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ qtstatus users list\n  $ qtstatus users list --sort last-seen --seen-within 5m\n  $ qtstatus users list --not-seen-within 30d --json | jq -r .email',
    )
    .action((opts: ListOptions) => list(opts));

  users
    .command('show')
    .argument('<email>')
    .description('Show one user.')
    .option(...dbOption)
    .option('--json', 'a JSON object')
    .action(async (email: string, opts: DbOption) => {
      const { u, where } = await withStore(opts.db, async (s) => ({ u: await s.getUser(email), where: s.description }), { mustExist: true });
      if (!u) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${where}`, { hint: `add it: qtstatus users add ${email}` });
      if (opts.json) return void process.stdout.write(safeJson(userJson(u), 2) + '\n');
      const j = userJson(u);
      process.stdout.write(
        `email      ${escapeText(j.email)}\nregistered ${j.createdAt}\nlast seen  ${j.lastSeen ? `${j.lastSeen} (${age(u.lastSeenNs as bigint)})` : 'never'}\n` +
          (j.lastSeen ? `from       ${escapeText(hostPort(j.ip ?? '', j.port ?? 0))}\n` : ''),
      );
    });

  users
    .command('remove')
    .argument('<email>')
    .description('Remove a user: its next request gets 403.')
    .option(...dbOption)
    .action(async (email: string, opts: DbOption) => {
      const { removed, where } = await withStore(opts.db, async (s) => ({ removed: await s.removeUser(email), where: s.description }), { mustExist: true });
      if (!removed) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${where}`);
      process.stderr.write(`removed ${escapeText(email)}\n`);
    });
}
