// `qtstatus users list`: streamed from the store to stdout as the rows come,
// at the pace the reader takes them, so its memory stays flat whatever the
// number of users (issue #11).

import type { ListQuery } from '../../../store/store.ts';
import { escapeText, safeJson } from '../../escape.ts';
import { colourFor } from '../../style.ts';
import { HEADER, tableLine, userJson, userRow, withStore, type DbOption } from './common.ts';

export interface ListOptions extends DbOption {
  sort: 'email' | 'last-seen';
  seenWithin?: number;
  notSeenWithin?: number;
}

/** Output is written in pieces of about this size, each after the last one drained. */
const WRITE_CHUNK = 32 * 1024;
/** The text table's column widths come from this many first rows. */
const FIRST_PAGE = 1000;

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

export async function listAction(opts: ListOptions): Promise<void> {
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
