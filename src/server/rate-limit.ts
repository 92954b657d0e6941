// Per-identity token buckets: `perSecond` requests a second on average,
// bursts up to `burst`. Answers how long to wait when empty (429 Retry-After).

export interface RateLimit {
  perSecond: number;
  burst: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly limit: RateLimit;

  constructor(limit: RateLimit) {
    this.limit = limit;
  }

  /** 0 when `key` may go ahead now; else the seconds to wait. */
  take(key: string, nowMs: number): number {
    const { perSecond, burst } = this.limit;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 100_000) this.sweep(nowMs);
      b = { tokens: burst, at: nowMs };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * perSecond);
    b.at = nowMs;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  /** Forgets buckets that have refilled: they behave as new ones. */
  private sweep(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(key);
    }
  }
}
