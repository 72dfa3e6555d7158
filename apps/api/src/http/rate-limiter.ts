/**
 * Token buckets per API key: each key refills at `ratePerSecond` up to `burst`, so
 * one tenant's burst drains only its own bucket and never starves another tenant.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clockMs: () => number,
    /** Buckets kept at most; idle full ones are dropped first. */
    private readonly bucketsMax = 100_000,
  ) {}

  /** Takes one token; returns 0 when allowed, otherwise the seconds to wait before retrying. */
  take(key: string): number {
    const nowMs = this.clockMs();
    const bucket = this.buckets.get(key) ?? this.newBucket(key, nowMs);
    const refill = ((nowMs - bucket.updatedMs) / 1000) * this.ratePerSecond;
    bucket.tokens = Math.min(this.burst, bucket.tokens + refill);
    bucket.updatedMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }

  private newBucket(key: string, nowMs: number) {
    if (this.buckets.size >= this.bucketsMax) this.buckets.delete(this.buckets.keys().next().value as string);
    const bucket = { tokens: this.burst, updatedMs: nowMs };
    this.buckets.set(key, bucket);
    return bucket;
  }
}
