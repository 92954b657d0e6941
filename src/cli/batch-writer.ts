// Output for bursts: lines are queued and written in one chunk per event-loop
// turn, so printing never costs a syscall per packet. When the reader is slow
// (a pipe that fills), at most `maxBytes` wait in memory; lines past that are
// dropped and counted instead of growing memory without bound (issue #2).

import type { Writable } from 'node:stream';

export class BatchWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  /** Lines dropped because the reader could not keep up. */
  dropped = 0;

  private readonly stream: Writable;
  private readonly maxBytes: number;
  private readonly maxChunk: number;
  private readonly delayMs: number;

  /**
   * `maxChunk`: the most bytes one write may carry. Processes that share a
   * pipe (`serve --workers`) keep whole lines by writing at most PIPE_BUF
   * (4096 bytes on Linux, pipe(7)) at a time, which the kernel never splits.
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
    });
    // A closed pipe (EPIPE, e.g. `| head`) ends our output, not the program.
    stream.on('error', () => {
      this.closed = true;
      this.pending = [];
      this.pendingBytes = 0;
    });
  }

  write(line: string): void {
    if (this.closed) return;
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

  private flush(): void {
    this.scheduled = false;
    if (this.blocked || this.closed || this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.maxChunk === Infinity) {
      if (!this.stream.write(lines.join(''))) this.blocked = true;
      return;
    }
    let chunk = '';
    let bytes = 0;
    for (const line of lines) {
      const size = Buffer.byteLength(line);
      if (bytes > 0 && bytes + size > this.maxChunk) {
        if (!this.stream.write(chunk)) this.blocked = true;
        chunk = '';
        bytes = 0;
      }
      chunk += line;
      bytes += size;
    }
    if (chunk.length > 0 && !this.stream.write(chunk)) this.blocked = true;
  }

  /** True once the reader has gone away. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes what is queued; resolves when the stream has taken it, or after `timeoutMs`. */
  async end(timeoutMs = 5000): Promise<void> {
    this.flush();
    if (this.closed || (!this.blocked && this.pending.length === 0)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const check = () => {
        if (!this.blocked && this.pending.length === 0) done();
      };
      const stream = this.stream;
      stream.on('drain', check);
      function done() {
        clearTimeout(timer);
        stream.off('drain', check);
        resolve();
      }
    });
    // What could not be written in time is lost; count it.
    this.dropped += this.pending.length;
  }
}
