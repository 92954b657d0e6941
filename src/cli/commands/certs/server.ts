// `qtstatus certs server --host NAME…`: one more server certificate from the CA.

import type { Command } from 'commander';
import type { HostName } from '../../../pki/names.ts';
import { addMakeOptions, leafOptions, type MakeFlags } from './make-options.ts';
import { parseHostFlag } from './options.ts';
import { reportMade, withSpinner } from './output.ts';

export function registerServer(certs: Command): void {
  addMakeOptions(
    certs
      .command('server')
      .summary('one more server certificate from the CA')
      .description(
        'Make a server certificate for the given names (DNS and IP SANs; CN is the first) from the CA in --dir. Files are named after the first name unless --name is given.',
      )
      .requiredOption('-H, --host <name>', 'DNS name or IP address, repeatable', parseHostFlag),
    true,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs server --host status.internal --host 10.0.0.5
  $ qtstatus certs server --host localhost --host ::1 --name server --force   (replace server.crt)`,
    )
    .action(async (flags: MakeFlags & { host: HostName[] }) => {
      const { makeServer } = await import('../../../pki/make.ts');
      const set = await withSpinner('making a server certificate', flags, () => makeServer({ ...leafOptions(flags), hosts: flags.host }));
      await reportMade(set, flags);
    });
}
