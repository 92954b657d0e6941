// `users add --from`: the lines of a file or of standard input, read twice
// (checked, then written) with bounded memory per line (issue #11).

import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, QtError } from '../../../errors.ts';
import { emailRefusal, type EmailRefusal } from '../../../protocol/email.ts';
import { escapeText } from '../../escape.ts';

/** A line longer than this is refused without being kept whole (an address has at most 320 characters). */
const MAX_LINE = 4096;
/** Shown of a bad line. */
const SHOWN_CHARS = 100;

export interface Line {
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
export function lineSource(from: string): { lines: () => AsyncGenerator<Line>; name: string } {
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

export const isSkipped = (text: string) => /^\s*(#|$)/.test(text);

export function lineRefusal(l: Line): EmailRefusal | undefined {
  return l.long ? 'bad_length' : emailRefusal(l.text);
}

export function shown(text: string): string {
  const cut = [...text];
  const head = cut.length > SHOWN_CHARS ? `${cut.slice(0, SHOWN_CHARS).join('')}…` : text;
  return escapeText(JSON.stringify(head));
}
