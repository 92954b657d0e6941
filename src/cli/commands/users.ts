// `qtstatus users`: the registry the server checks (issue #4).

import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { hostPort } from '../../net/address.ts';
import { emailRefusal, refusalText } from '../../protocol/email.ts';
import { nsToIso } from '../../protocol/time.ts';
import { DEFAULT_DB, openStore } from '../../store/open.ts';
import type { Store, UserRecord } from '../../store/store.ts';
import { escapeText, safeJson } from '../escape.ts';
import { colourFor } from '../style.ts';

interface DbOption {
  db: string;
  json?: boolean;
}

async function withStore<T>(db: string, fn: (s: Store) => Promise<T>, opts: { mustExist?: boolean } = {}): Promise<T> {
  const store = await openStore(db, { ...opts, env: process.env });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** "3s", "5m", "2h", "4d" ago. */
export function age(ns: bigint, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round((nowMs - Number(ns / 1_000_000n)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

function userJson(u: UserRecord) {
  return {
    email: u.email,
    createdAt: nsToIso(u.createdNs),
    lastSeenNs: u.lastSeenNs?.toString() ?? null,
    lastSeen: u.lastSeenNs === null ? null : nsToIso(u.lastSeenNs),
    ageSeconds: u.lastSeenNs === null ? null : Math.max(0, Math.round((Date.now() - Number(u.lastSeenNs / 1_000_000n)) / 1000)),
    ip: u.ip,
    port: u.port,
  };
}

function userRow(u: UserRecord): string[] {
  const email = escapeText(u.email);
  if (u.lastSeenNs === null) return [email, 'never', '', '', ''];
  return [email, nsToIso(u.lastSeenNs).replace(/\.(\d{3})\d{6}Z$/, '.$1Z'), age(u.lastSeenNs), escapeText(u.ip ?? ''), String(u.port ?? '')];
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n').join('');
}

const dbOption = ['--db <file>', 'SQLite database file (env QTSTATUS_DB)', process.env.QTSTATUS_DB ?? DEFAULT_DB] as const;

export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .summary('add, list, show and remove users')
    .description('The users the server accepts: a CA-verified client whose CN is not here gets 403.');

  users
    .command('add')
    .argument('<email...>', 'email addresses (certificate CNs)')
    .description('Register users. Adding one that exists changes nothing.')
    .option(...dbOption)
    .addHelpText('after', '\nExample:\n  $ qtstatus users add alice@example.com bob@example.com')
    .action(async (given: string[], opts: DbOption) => {
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
      const added = await withStore(opts.db, (s) => s.addUsers(emails, BigInt(Date.now()) * 1_000_000n));
      for (const e of emails) process.stderr.write(`${added.includes(e) ? 'added' : 'exists'} ${escapeText(e)}\n`);
    });

  users
    .command('list')
    .description('List users with when and from where each was last seen.')
    .option(...dbOption)
    .option('--json', 'a JSON array')
    .addHelpText('after', '\nExamples:\n  $ qtstatus users list\n  $ qtstatus users list --json | jq -r ".[].email"')
    .action(async (opts: DbOption) => {
      const list = await withStore(opts.db, (s) => s.listUsers(), { mustExist: true });
      if (opts.json) return void process.stdout.write(safeJson(list.map(userJson), 2) + '\n');
      if (list.length === 0) return void process.stderr.write(`no users in ${opts.db} (add some: qtstatus users add EMAIL)\n`);
      const c = colourFor(process.stdout);
      const text = table([['EMAIL', 'LAST SEEN (UTC)', 'AGE', 'IP', 'PORT'], ...list.map(userRow)]);
      const [head, ...rest] = text.split('\n');
      process.stdout.write(`${c.bold(head ?? '')}\n${rest.join('\n')}`);
    });

  users
    .command('show')
    .argument('<email>')
    .description('Show one user.')
    .option(...dbOption)
    .option('--json', 'a JSON object')
    .action(async (email: string, opts: DbOption) => {
      const u = await withStore(opts.db, (s) => s.getUser(email), { mustExist: true });
      if (!u) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${opts.db}`, { hint: `add it: qtstatus users add ${email}` });
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
      const removed = await withStore(opts.db, (s) => s.removeUser(email), { mustExist: true });
      if (!removed) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${opts.db}`);
      process.stderr.write(`removed ${escapeText(email)}\n`);
    });
}
