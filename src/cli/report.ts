// The one place where errors become text on stderr and exit codes.
// Format: `qtstatus: <what happened>: <cause> (<hint>)`.

import { CommanderError, type Command } from 'commander';
import { getSystemErrorMessage } from 'node:util';
import { ErrorCodes, isQtError, type ErrorCode } from '../errors.ts';
import { escapeText } from './escape.ts';
import { hintFor, how } from './hints.ts';

/** Exit codes scripts can rely on (docs/cli.md). */
export const ExitCodes = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CONNECT: 3,
  TLS: 4,
  CERT_REFUSED: 5,
  HTTP_STATUS: 6,
} as const;

const exitCodeByError: Record<ErrorCode, number> = {
  [ErrorCodes.USAGE]: ExitCodes.USAGE,
  [ErrorCodes.FILE]: ExitCodes.FAILURE,
  [ErrorCodes.NETWORK]: ExitCodes.FAILURE,
  [ErrorCodes.PACKET]: ExitCodes.FAILURE,
  [ErrorCodes.REFUSED]: ExitCodes.FAILURE,
  [ErrorCodes.STORE]: ExitCodes.FAILURE,
  [ErrorCodes.NOT_FOUND]: ExitCodes.FAILURE,
  [ErrorCodes.INTERNAL]: ExitCodes.FAILURE,
  [ErrorCodes.CERT]: ExitCodes.FAILURE,
  [ErrorCodes.CERT_INVALID]: ExitCodes.FAILURE,
  [ErrorCodes.CONNECT]: ExitCodes.CONNECT,
  [ErrorCodes.TLS]: ExitCodes.TLS,
  [ErrorCodes.CERT_REFUSED]: ExitCodes.CERT_REFUSED,
  [ErrorCodes.HTTP_STATUS]: ExitCodes.HTTP_STATUS,
};

export function exitCodeFor(err: unknown): number {
  if (isQtError(err)) return exitCodeByError[err.code];
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
  return ExitCodes.FAILURE;
}

/** A system error's code and text, e.g. "EADDRINUSE: address already in use". */
function describeCause(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (cause instanceof Error) {
    const { code, errno } = cause as NodeJS.ErrnoException;
    // System errors: "EADDRINUSE: address already in use" rather than Node's
    // "bind EADDRINUSE 0.0.0.0:6667", whose address we already said.
    if (code && typeof errno === 'number' && errno < 0) return `${code}: ${getSystemErrorMessage(errno)}`;
    return cause.message;
  }
  return String(cause);
}

/** Commander's usage error, in our format, with where to look next. */
export function formatUsageError(text: string): string {
  const line = escapeText(text.trim().replace(/^error: /, ''));
  return `qtstatus: ${line} (see 'qtstatus --help' or 'qtstatus help <command>')\n`;
}

/**
 * The single line printed for a failure, without colour. Messages carry
 * user and network text (file names, identities, server answers): escaped.
 *
 * The hint is the advice ./hints.ts has for the error's reason, naming each
 * setting the way the user gave it to `command` (the command being run: a
 * flag, a variable or a config file line); without advice for the reason,
 * the error's own hint. Without `command`, settings are named as flags.
 */
export function formatError(err: unknown, command?: Command): string {
  if (isQtError(err)) {
    const cause = describeCause(err.cause);
    const hint = hintFor(err, command);
    const subject = err.subject && err.setting ? `${how(command, err.setting).name}: ` : '';
    return escapeText(`qtstatus: ${subject}${err.message}${cause ? `: ${cause}` : ''}${hint ? ` (${hint})` : ''}`);
  }
  if (err instanceof CommanderError) return escapeText(err.message.replace(/^error: /, 'qtstatus: '));
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const lines = text.split('\n').map(escapeText).join('\n');
  return `qtstatus: internal error: ${lines} (this is a bug: please report it with the command you ran)`;
}
