// The qtstatus command line: builds the commands, runs one, and maps any
// failure to a message and an exit code in one place (./report.ts).

import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.ts';
import { registerCerts } from './commands/certs/index.ts';
import { registerCompletion } from './commands/completion.ts';
import { registerDemo } from './commands/demo.ts';
import { registerListen } from './commands/listen.ts';
import { registerPing } from './commands/ping.ts';
import { registerServe } from './commands/serve.ts';
import { registerUsers } from './commands/users/index.ts';
import { registerVersion } from './commands/version.ts';
import { addEnvironment, settle } from './config.ts';
import { ExitCodes, exitCodeFor, formatError, formatUsageError } from './report.ts';
import { colourFor } from './style.ts';

export function buildProgram(): Command {
  const program = new Command('qtstatus')
    .description(
      'Verified user status over mutual TLS. Clients prove who they are with a certificate; the server records when each user was last seen and announces every update as a small UDP packet.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(formatUsageError(text)) })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus demo                          the whole loop on loopback, in a temp dir
  $ qtstatus listen --json                 print every status packet on UDP 6667
  $ qtstatus help listen                   options and examples for one command

Exit codes: 0 success, 1 failure, 2 usage error (docs/cli.md).`,
    );
  // Subcommands made after this point inherit the exit override and output.
  registerCerts(program);
  registerServe(program);
  registerUsers(program);
  registerPing(program);
  registerListen(program);
  registerDemo(program);
  registerCompletion(program);
  registerVersion(program);
  // Last, so every option of every command gets its variable (./config.ts).
  addEnvironment(program);
  program.hook('preAction', (_program, command) => {
    actionCommands.set(program, command); // first: a bad config file's error is reported for it too
    settle(command, process.env);
  });
  return program;
}

/** The command each program ran (its preAction hook saw it): the context of its error's hint (./hints.ts). */
const actionCommands = new WeakMap<Command, Command>();

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCodes.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed help, the version or the usage error.
      return err.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
    }
    process.stderr.write(colourFor(process.stderr).red(formatError(err, actionCommands.get(program))) + '\n');
    return exitCodeFor(err);
  }
}
