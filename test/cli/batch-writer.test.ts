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
    expect(w.dropped).toBe(1);
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
