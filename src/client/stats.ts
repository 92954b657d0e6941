// Latency percentiles for summaries (nearest rank, as most load tools report).

export interface Percentiles {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles of `values` (any order); undefined when there are none. */
export function percentiles(values: readonly number[]): Percentiles | undefined {
  const n = values.length;
  if (n === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { min: sorted[0] as number, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[n - 1] as number, mean: sum / n };
}

/** Adds one to a counter in a record. */
export function count<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
