import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../src/cli/batch-writer.ts';

/** A pipe whose reader takes what it is given only when `release` is called. */
function slowPipe() {
  const chunks: string[] = [];
  let pending: Array<() => void> = [];
  const stream = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      pending.push(cb);
    },
  });
  return {
    stream,
    chunks,
    release() {
      const cbs = pending;
      pending = [];
      cbs.forEach((cb) => cb());
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('BatchWriter', () => {
  it('writes lines of one event-loop turn as one chunk', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream);
    w.write('a\n');
    w.write('b\n');
    await turn();
    expect(pipe.chunks).toEqual(['a\nb\n']);
  });

  it('keeps at most maxBytes while the reader is stalled, counts what it drops, and loses nothing it kept', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream, 100);
    w.write('x'.repeat(90) + '\n'); // fills the stream's own buffer: now blocked
    await turn();
    for (let i = 0; i < 50; i++) w.write(`line ${String(i).padStart(3, '0')}\n`); // 9 bytes each
    await turn();
    expect(w.dropped).toBe(50 - 11); // 11 lines fit in 100 bytes
    pipe.release();
    await turn();
    pipe.release();
    await w.end(1000);
    const text = pipe.chunks.join('');
    expect(text).toContain('line 000\n');
    expect(text).toContain('line 010\n');
    expect(text).not.toContain('line 011');
    expect(w.dropped).toBe(39);
  });

  it('end() gives up after its timeout on a reader that never reads, and counts the rest as dropped', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream, 1000);
    w.write('y'.repeat(100) + '\n');
    await turn();
    w.write('stuck\n');
    await w.end(50);
    // Issue #10: the line the stream still holds was not written either.
    expect(w.dropped).toBe(2);
    expect(w.stuck).toBe(true);
  });

  it('end() waits for a reader that is slow but reading, however long it takes in all', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream);
    for (let i = 0; i < 4000; i++) w.write(`line ${String(i).padStart(4, '0')} ${'z'.repeat(90)}\n`); // 400 kB: several chunks
    await turn();
    const reader = setInterval(() => pipe.release(), 30);
    const started = performance.now();
    try {
      await w.end(100); // idle for 100 ms at most, not 100 ms in all
    } finally {
      clearInterval(reader);
    }
    expect(performance.now() - started).toBeGreaterThan(100);
    expect(w.dropped).toBe(0);
    expect(w.stuck).toBe(false);
    const text = pipe.chunks.join('');
    expect(text.split('\n')).toHaveLength(4001);
    expect(text).toContain('line 3999 ');
    expect(Math.max(...pipe.chunks.map((c) => c.length))).toBeLessThanOrEqual(64 * 1024);
  });

  it('writes nothing after end()', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream);
    await w.end(10);
    w.write('late\n');
    await turn();
    expect(pipe.chunks).toEqual([]);
  });

  it('stops writing once the reader has gone away (EPIPE)', async () => {
    const pipe = slowPipe();
    const w = new BatchWriter(pipe.stream);
    pipe.stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    w.write('z\n');
    await turn();
    expect(w.isClosed).toBe(true);
    expect(pipe.chunks).toEqual([]);
  });
});
