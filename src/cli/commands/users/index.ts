// `qtstatus users`: the registry the server checks (issues #4, #11). One
// file per subcommand; this one defines them.
//
// Built for a million users: `add --from` checks every line first and
// writes nothing if one is bad, then adds in batches (one transaction
// each); `list` streams rows from the store to stdout as they come, with
// the pipe's backpressure, so its memory stays flat whatever the number.

import { Option, type Command } from 'commander';
import { parseAge } from '../../options.ts';
import { addAction, BATCH, MAX_BAD_SHOWN } from './add.ts';
import { dbOption } from './common.ts';
import { listAction } from './list.ts';
import { removeAction } from './remove.ts';
import { showAction } from './show.ts';

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
    .action(addAction);

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
    .action(listAction);

  users
    .command('show')
    .argument('<email>')
    .description('Show one user.')
    .option(...dbOption)
    .option('--json', 'a JSON object')
    .action(showAction);

  users
    .command('remove')
    .argument('<email>')
    .description('Remove a user: its next request gets 403.')
    .option(...dbOption)
    .action(removeAction);
}
