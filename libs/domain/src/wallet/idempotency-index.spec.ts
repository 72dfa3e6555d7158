import { IdempotencyIndex, type IdempotencyRecord } from './idempotency-index.js';

function record(key: string, version: number, occurredAtMs: number): IdempotencyRecord {
  return {
    key,
    direction: 'credit',
    currency: 'USD',
    amountMinor: 1,
    reason: null,
    entryId: `wle_${key}`,
    balanceAfterMinor: version,
    occurredAt: new Date(occurredAtMs).toISOString(),
    occurredAtMs,
    version,
  };
}

describe('IdempotencyIndex.visibleAt (what a snapshot of a state carries)', () => {
  it('yields, oldest first, the records at or below the version and not older than the cut-off', () => {
    const index = new IdempotencyIndex().add(record('old', 2, 1_000)).add(record('a', 3, 5_000)).add(record('b', 4, 6_000)).add(record('later', 6, 7_000));
    expect([...index.visibleAt(5, 2_000)].map((r) => r.key)).toEqual(['a', 'b']);
    expect([...index.visibleAt(6, 0)].map((r) => r.key)).toEqual(['old', 'a', 'b', 'later']);
    expect([...index.visibleAt(1, 0)]).toEqual([]);
  });
});

describe('IdempotencyIndex.evictOldest (bounding keys held in memory)', () => {
  it('drops the oldest past `keep` and stops at the first record it may not drop', () => {
    const index = new IdempotencyIndex().add(record('a', 1, 1)).add(record('b', 2, 2)).add(record('c', 3, 3)).add(record('d', 4, 4));
    expect(index.evictOldest(3, () => true)).toBe(1);
    expect(index.has('a')).toBe(false);
    expect(index.has('b')).toBe(true);
    // 'b' may not go (say, not stored yet): nothing behind it goes either, whatever `keep` says.
    expect(index.evictOldest(1, (r) => r.key !== 'b')).toBe(0);
    expect(index.size).toBe(3);
    expect(index.evictOldest(1, () => true)).toBe(2);
    expect([...index.visibleAt(10, 0)].map((r) => r.key)).toEqual(['d']);
  });
});
