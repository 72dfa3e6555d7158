/**
 * A per-stream index of keys (idempotency keys) written with their events, so a writer finds
 * the event a key belongs to without holding every key in memory or reading the stream.
 * Written atomically with the event: an append that fails leaves no key behind, one that
 * succeeds is findable as soon as it resolves. A key used again (after its retention) points
 * to its newest event.
 */
/*
 * Stores: the embedded SQLite store writes a `stream_keys` row in the append's own transaction;
 * the in-memory store keeps a map. EventStoreDB has no key index yet, so a writer on it keeps
 * every live key in memory, as before (bounded by retention, not by configuration).
 *
 * The design chosen for EventStoreDB, not built yet: the read models' ledger entries, which
 * carry each entry's idempotency key under a unique (customer, key) index, serve as the index,
 * and the append with its expected revision stays the only arbiter. A writer may drop a key
 * from memory only once the read models have applied its event (its stream revision is at or
 * below the revision the read models hold for that customer), just as the SQLite writer drops
 * only stored keys; a key not in memory is looked up there. Rejected: a stream per key
 * appended with `no_stream`, because that append and the entry's cannot be one transaction on
 * EventStoreDB, so a crash between them leaves a key claimed by an entry that does not exist
 * (or the reverse), and repairing that needs the same lookup anyway.
 */

export interface IndexedKey {
  readonly streamId: string;
  readonly key: string;
  /** Revision of the newest event written with this key. */
  readonly revision: number;
  /** When that event was stored (the store's clock). */
  readonly recordedAt: string;
}

export interface KeyIndex {
  /**
   * Events appended on or after this time (ms since the epoch) are indexed; older ones may not
   * be (a log written before the index existed). A writer must keep, in memory, any key it
   * learnt of an older event until that key expires.
   */
  readonly indexedSinceMs: number;
  findKey(streamId: string, key: string): Promise<IndexedKey | null>;
  /** Forgets at most `max` keys recorded before `recordedBefore` (ms since the epoch); returns how many it forgot. */
  forgetKeysBefore(recordedBeforeMs: number, max: number): Promise<number>;
}
