import { describe, expect, it } from 'vitest';
import { createNsClock, nsToIso } from '../../src/protocol/time.ts';

describe('nsToIso', () => {
  it('shows all nine fraction digits exactly, from 0 to 2^64-1', () => {
    expect(nsToIso(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(nsToIso(1734700000123456789n)).toBe('2024-12-20T13:06:40.123456789Z');
    expect(nsToIso((1n << 64n) - 1n)).toBe('2554-07-21T23:34:33.709551615Z');
    expect(nsToIso(999n)).toBe('1970-01-01T00:00:00.000000999Z');
  });
});

describe('createNsClock', () => {
  it('follows the wall clock and never goes backwards', () => {
    const clock = createNsClock();
    const before = BigInt(Date.now()) * 1_000_000n;
    let last = clock();
    expect(last).toBeGreaterThanOrEqual(before - 1_000_000n);
    for (let i = 0; i < 10_000; i++) {
      const now = clock();
      expect(now).toBeGreaterThan(last);
      last = now;
    }
    expect(last).toBeLessThanOrEqual(BigInt(Date.now() + 2) * 1_000_000n);
  });
});
