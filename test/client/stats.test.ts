import { describe, expect, it } from 'vitest';
import { percentiles } from '../../src/client/stats.ts';

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ min: 1, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(percentiles([7])).toEqual({ min: 7, p50: 7, p90: 7, p99: 7, max: 7, mean: 7 });
    expect(percentiles([])).toBeUndefined();
  });
});
