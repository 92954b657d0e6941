// `qtstatus certs client EMAIL`: one more client certificate from the CA.

import type { Command } from 'commander';
import { addMakeOptions, leafOptions, type MakeFlags } from './make-options.ts';
import { reportMade, withSpinner } from './output.ts';

export function registerClient(certs: Command): void {
  addMakeOptions(
    certs
      .command('client')
      .summary('one more client certificate from the CA')
      .description(
        'Make a client certificate for EMAIL (CN and an rfc822Name SAN) from the CA in --dir. Files are named after the identity (alice@example.org.crt; characters unsafe in file names become _) unless --name is given.',
      )
      .argument('<email>', 'the user\'s email address: the server identifies users by it')
      .option('--allow-non-email', 'accept an identity that is not an email address, to test the server\'s 400 answer'),
    true,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs client alice@example.org
  $ qtstatus certs client bob@example.org --dir tls --days 30
  $ qtstatus certs client not_an_email --allow-non-email --name bad_client   (the server answers 400)`,
    )
    .action(async (identity: string, flags: MakeFlags & { allowNonEmail?: boolean }) => {
      const { makeClient } = await import('../../../pki/make.ts');
      const set = await withSpinner('making a client certificate', flags, () =>
        makeClient({ ...leafOptions(flags), identity, allowNonEmail: flags.allowNonEmail === true }),
      );
      await reportMade(set, flags);
    });
}
