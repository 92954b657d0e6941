// Output for bursts: lines are queued and written in one chunk per event-loop
// turn, so printing never costs a syscall per packet. When the reader is slow
// (a pipe that fills), at most `maxBytes` wait in memory; lines past that are
// dropped and counted instead of growing memory without bound (issue #2).
//
// At the end, a reader that takes nothing more is not waited for: what it did
// not take is counted as dropped, including what the stream itself still
// holds, and `stuck` tells the caller that only exiting ends that write
// (issue #10: `listen` hung after its summary on a pipe nobody read).

import type { Writable } from 'node:stream';

/** Chunks of at most this much, so a slow reader's progress shows at the end. */
const DEFAULT_CHUNK = 64 * 1024;

export class BatchWriter {
  private pending: string[] = [];
  /** Index of the first line of `pending` not yet written. */
  private head = 0;
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  private ended = false;
  /** Lines handed to the stream whose write has not completed. */
  private inFlight = 0;
  private onProgress: (() => void) | undefined;
  /** Lines dropped because the reader could not keep up. */
  dropped = 0;
  /** True when end() gave up with a write still pending in the stream. */
  stuck = false;

  private readonly stream: Writable;
  private readonly maxBytes: number;
  private readonly maxChunk: number;
  private readonly delayMs: number;

  /**
   * `maxChunk`: the most bytes one write may carry. Processes that share a
   * pipe (`serve --workers`) keep whole lines by writing at most PIPE_BUF
   * (4096 bytes on Linux, pipe(7)) at a time, which the kernel never splits.
   * Unset, writes carry up to 64 KiB (a line longer than that goes whole).
   */
  /**
   * `delayMs`: 0 writes at the end of each event-loop turn (a listener's
   * bursts); more gathers lines for that long, one write for many (a
   * server's request log, where a write per turn costs a syscall per request).
   */
  constructor(stream: Writable, maxBytes = 16 * 1024 * 1024, maxChunk = Infinity, delayMs = 0) {
    this.stream = stream;
    this.maxBytes = maxBytes;
    this.maxChunk = maxChunk;
    this.delayMs = delayMs;
    stream.on('drain', () => {
      this.blocked = false;
      this.flush();
      this.onProgress?.();
    });
    // A closed pipe (EPIPE, e.g. `| head`) ends our output, not the program.
    stream.on('error', () => {
      this.closed = true;
      this.pending = [];
      this.head = 0;
      this.pendingBytes = 0;
      this.onProgress?.();
    });
  }

  write(line: string): void {
    if (this.closed || this.ended) return;
    if (this.pendingBytes + line.length > this.maxBytes) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      if (this.delayMs > 0) setTimeout(() => this.flush(), this.delayMs).unref();
      else setImmediate(() => this.flush());
    }
  }

  /** Lines queued here and not yet handed to the stream. */
  private get queued(): number {
    return this.pending.length - this.head;
  }

  /** Writes queued lines in chunks until the stream says it is full. */
  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.ended) return;
    const exact = this.maxChunk !== Infinity; // byte-exact chunks (PIPE_BUF)
    const limit = exact ? this.maxChunk : DEFAULT_CHUNK;
    while (!this.blocked && this.queued > 0) {
      let chunk = '';
      let size = 0;
      let lines = 0;
      while (this.head < this.pending.length) {
        const line = this.pending[this.head] as string;
        const bytes = exact ? Buffer.byteLength(line) : line.length;
        if (lines > 0 && size + bytes > limit) break;
        chunk += line;
        size += bytes;
        lines++;
        this.head++;
        this.pendingBytes -= line.length;
      }
      this.send(chunk, lines);
    }
    if (this.queued === 0) {
      this.pending = [];
      this.head = 0;
      this.pendingBytes = 0;
    } else if (this.head >= 4096) {
      // Let written lines go while a slow reader keeps the queue non-empty.
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private send(chunk: string, lines: number): void {
    this.inFlight += lines;
    const accepted = this.stream.write(chunk, () => {
      this.inFlight -= lines;
      this.onProgress?.();
    });
    if (!accepted) this.blocked = true;
  }

  /** True once the reader has gone away. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Writes what is queued; resolves when the stream has taken all of it, or
   * when the reader has taken nothing for `idleMs` (a reader that is slow but
   * reading gets everything). Lines not written by then are counted as
   * dropped, and nothing more is written.
   */
  async end(idleMs = 1000): Promise<void> {
    this.flush();
    const done = () => this.closed || (this.queued === 0 && this.inFlight === 0);
    if (!done()) {
      await new Promise<void>((resolve) => {
        let timer = setTimeout(finish, idleMs);
        this.onProgress = () => {
          clearTimeout(timer);
          if (done()) finish();
          else timer = setTimeout(finish, idleMs);
        };
        function finish() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.onProgress = undefined;
    }
    this.ended = true;
    if (this.closed) return;
    // What could not be written in time is lost; count it.
    this.stuck = this.inFlight > 0;
    this.dropped += this.queued + this.inFlight;
    this.pending = [];
    this.head = 0;
    this.pendingBytes = 0;
  }
}
