// Colour and spinners are for people: off for NO_COLOR (no-color.org),
// for --json and when the stream is not a terminal; FORCE_COLOR turns it on.

import { Chalk, type ChalkInstance, supportsColor, supportsColorStderr } from 'chalk';

export type Stream = NodeJS.WriteStream;

export function colourFor(stream: Stream, json = false): ChalkInstance {
  const env = process.env;
  const detected = stream === process.stderr ? supportsColorStderr : supportsColor;
  let level = detected ? detected.level : 0;
  if (json || (env.NO_COLOR ?? '') !== '') level = 0;
  else if (!stream.isTTY && (env.FORCE_COLOR ?? '') === '') level = 0;
  return new Chalk({ level: level as 0 | 1 | 2 | 3 });
}

/**
 * Whether to draw spinners and progress on `stream`: a terminal with a size
 * (ora loops forever on a pty of zero columns that nobody sized).
 */
export function isInteractive(stream: Stream, json = false): boolean {
  return !json && stream.isTTY === true && (stream.columns ?? 0) > 0 && process.env.TERM !== 'dumb' && process.env.CI === undefined;
}
