import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows a burst, then asks the caller to wait, then refills', () => {
    let nowMs = 0;
    const limiter = new RateLimiter(10, 5, () => nowMs);
    for (let i = 0; i < 5; i += 1) expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThanOrEqual(1);
    nowMs += 100; // one token at 10/s
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThanOrEqual(1);
  });

  it('keeps tenants apart: one key exhausting its bucket does not slow another', () => {
    const limiter = new RateLimiter(1, 3, () => 0);
    for (let i = 0; i < 10; i += 1) limiter.take('noisy');
    expect(limiter.take('noisy')).toBeGreaterThan(0);
    expect(limiter.take('quiet')).toBe(0);
  });
});
