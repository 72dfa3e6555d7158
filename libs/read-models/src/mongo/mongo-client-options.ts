import type { MongoClientOptions } from 'mongodb';

/** Connection pool and timeouts of the read models' client; every field is bounded and explicit. */
export interface MongoClientLimits {
  /** Connections per server. The projector writes one batch at a time; the API's reads share the rest. */
  readonly poolSizeMax: number;
  /** How long an operation may wait to find a writable primary (after a failover, the election). */
  readonly serverSelectionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /**
   * Client-side deadline per operation, retries included (the driver's `timeoutMS`). A hung
   * socket otherwise blocks a projector batch (and the lease renewal behind it) forever.
   */
  readonly operationTimeoutMs: number;
}

export const MONGO_CLIENT_LIMITS: MongoClientLimits = {
  poolSizeMax: 20,
  serverSelectionTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  operationTimeoutMs: 30_000,
};

/**
 * The options every read-model client is opened with. Set here rather than left to the URL
 * so that an operator's URL cannot silently weaken them:
 *  - `w: 'majority'`, `journal: true`: the checkpoint only moves over documents a failover
 *    cannot roll back (a `w: 1` write acknowledged by a primary that then loses its seat
 *    is rolled back, and the checkpoint with it: `applyEvents` refuses a checkpoint that
 *    went backwards).
 *  - `readPreference: 'primary'`, `readConcern: 'majority'`: the projector plans a batch
 *    from what it reads; a secondary's stale counters would renumber documents.
 *  - int64 values within 2^53 come back as plain numbers; undefined fields are not written.
 */
export function mongoClientOptions(limits: MongoClientLimits = MONGO_CLIENT_LIMITS): MongoClientOptions {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return {
    writeConcern: { w: 'majority', journal: true },
    readPreference: 'primary',
    readConcern: { level: 'majority' },
    maxPoolSize: limits.poolSizeMax,
    serverSelectionTimeoutMS: limits.serverSelectionTimeoutMs,
    connectTimeoutMS: limits.connectTimeoutMs,
    timeoutMS: limits.operationTimeoutMs,
    promoteLongs: true,
    ignoreUndefined: true,
  };
}
