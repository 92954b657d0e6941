// Durations and sizes read and print with units (issue #13): --help shows
// what a user would type, and what it shows reads back to the same value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, formatSize, parseAge, parseDuration, parseSize } from '../../src/cli/options.ts';

describe('sizes', () => {
  it.each([
    ['1024', 1024],
    ['1k', 1024],
    ['1K', 1024],
    ['16KiB', 16_384],
    ['16kb', 16_384],
    ['8m', 8 * 1024 ** 2],
    ['1.5k', 1536],
    ['0', 0],
  ])('reads %s as %i bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'k', '1q', '-1', '1 k b', '1e3'])('refuses %j as a usage error', (text) => expect(() => parseSize(text)).toThrow(/is not a size/));

  it('prints what reads back', () => {
    expect([formatSize(8192), formatSize(1024), formatSize(1000), formatSize(8 * 1024 ** 2)]).toEqual(['8KiB', '1KiB', '1000', '8MiB']);
    fc.assert(fc.property(fc.nat(2 ** 40), (n) => parseSize(formatSize(n)) === n));
  });
});

describe('durations', () => {
  it('one reader: timers take ms to h, ages (users list --seen-within) also d and w', () => {
    expect([parseDuration('1m30s'), parseDuration('90'), parseDuration('500ms')]).toEqual([90_000, 90_000, 500]);
    expect(() => parseDuration('1d')).toThrow(/is not a duration \(try 500ms/);
    expect([parseAge('1d12h'), parseAge('2w'), parseAge('90s'), parseAge('1.5h')]).toEqual([129_600_000, 1_209_600_000, 90_000, 5_400_000]);
    expect(() => parseAge('5 m')).toThrow(/is not a duration \(try 90s/);
    expect(() => parseAge('d')).toThrow(/is not a duration/);
    expect(() => parseAge('99999999999999999w')).toThrow(/too long/);
  });

  it('prints what reads back', () => {
    expect([formatDuration(10_000), formatDuration(65_000), formatDuration(3_600_000), formatDuration(500), formatDuration(0)]).toEqual(['10s', '1m5s', '1h', '500ms', '0s']);
    fc.assert(fc.property(fc.nat(2 ** 31 - 1), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});
