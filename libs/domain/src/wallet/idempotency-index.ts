import type { EntryDirection } from './wallet.commands.js';

/** What a keyed entry asked for and what it produced; enough to answer a replay. */
export interface IdempotencyRecord {
  readonly key: string;
  readonly direction: EntryDirection;
  readonly currency: string;
  readonly amountMinor: number;
  readonly reason: string | null;
  readonly entryId: string;
  readonly balanceAfterMinor: number;
  readonly occurredAt: string;
  readonly occurredAtMs: number;
  /** Stream version (events applied) right after this record's event. */
  readonly version: number;
}

/**
 * Idempotency keys of one stream, shared along one line of states.
 *
 * Copying a map of every key on every event would make loading a stream with
 * 100,000 keyed entries quadratic. Instead, states along one history share this
 * index and each state sees only the records at or below its own version, so keys
 * added later are invisible to an earlier state. Two changes do reach earlier states:
 * expiry (records older than the retention window) and re-use of an expired key. Both
 * concern keys that no decision with a current clock can see anyway. Records are
 * inserted in time order, so expiry pops from the front (a record a writer finds again
 * through its store's key index joins at the back: expiry reaches it late, which only
 * delays freeing it; `find` judges age by the record itself).
 *
 * The one rule that keeps this sound: a state is evolved along a single line. A
 * caller that throws a state away after a failed append must rebuild it from the
 * store rather than evolve the discarded branch's parent a second time.
 */
export class IdempotencyIndex {
  private readonly records = new Map<string, IdempotencyRecord>();

  get size(): number {
    return this.records.size;
  }

  /** Whether any record for `key` is held, visible or not. */
  has(key: string): boolean {
    return this.records.has(key);
  }

  /**
   * Drops the oldest records past `keep`, stopping at the first one `evictable` refuses. For a
   * writer whose store can find a key again (a key index): memory is then bounded by `keep`
   * rather than by traffic. Returns how many it dropped.
   */
  evictOldest(keep: number, evictable: (record: IdempotencyRecord) => boolean): number {
    let evicted = 0;
    for (const [key, record] of this.records) {
      if (this.records.size <= keep || !evictable(record)) break;
      this.records.delete(key);
      evicted += 1;
    }
    return evicted;
  }

  /** The record for `key` visible at `version`, ignoring records older than `notBeforeMs`. */
  find(key: string, version: number, notBeforeMs: number): IdempotencyRecord | undefined {
    const record = this.records.get(key);
    if (record === undefined || record.version > version) return undefined;
    return record.occurredAtMs >= notBeforeMs ? record : undefined;
  }

  /**
   * The records visible at `version` and not older than `notBeforeMs`, oldest first: what a
   * serialised state must carry (re-adding them in this order restores the time order).
   */
  *visibleAt(version: number, notBeforeMs: number): IterableIterator<IdempotencyRecord> {
    for (const record of this.records.values()) {
      if (record.version <= version && record.occurredAtMs >= notBeforeMs) yield record;
    }
  }

  add(record: IdempotencyRecord): this {
    // Re-inserting moves a reused (expired) key to the back, keeping time order.
    this.records.delete(record.key);
    this.records.set(record.key, record);
    return this;
  }

  /** Frees records that no decision can see any more (older than `notBeforeMs`). */
  expireBefore(notBeforeMs: number): this {
    for (const [key, record] of this.records) {
      if (record.occurredAtMs >= notBeforeMs) break;
      this.records.delete(key);
    }
    return this;
  }
}
