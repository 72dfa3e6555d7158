import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { ProjectionLease } from '../projection-lease.port.js';

export interface MongoProjectionLeaseOptions {
  /** The read models' database: the lease lives beside what it protects. */
  readonly db: Db;
  /** E.g. `wallet_v1`: one lease per projection and version. */
  readonly projectionName: string;
  /** Milliseconds since the epoch; injected so tests control time. */
  readonly clock: () => number;
}

interface LeaseDoc {
  _id: string;
  owner: string;
  expiresAtMs: number;
}

const DUPLICATE_KEY = 11000;

/**
 * One document per projection in `projection_leases`. Taking, renewing and taking over
 * are one atomic `findOneAndUpdate` on MongoDB. When the lease is held and live, the
 * filter matches nothing and the upsert collides with the existing `_id`: that
 * duplicate-key error means "held by someone else".
 *
 * FerretDB 1.x runs an update as read-then-write without a condition, so concurrent
 * takeovers of a lapsed lease can all succeed there; only the first take (an insert)
 * is atomic. Row guards in the read models keep such an overlap harmless.
 */
export class MongoProjectionLease implements ProjectionLease {
  private readonly leases: Collection<LeaseDoc>;

  constructor(private readonly options: MongoProjectionLeaseOptions) {
    this.leases = options.db.collection<LeaseDoc>('projection_leases');
  }

  async tryAcquire(owner: string, ttlMs: number, holderIsDead?: (holder: string) => boolean): Promise<boolean> {
    const nowMs = this.options.clock();
    const _id = this.options.projectionName;
    if (holderIsDead !== undefined) {
      const current = await this.leases.findOne({ _id });
      if (current !== null && current.owner !== owner && holderIsDead(current.owner)) {
        // Conditional on the dead holder's name, so a live contender that got there first wins.
        const taken = await this.leases.updateOne({ _id, owner: current.owner }, { $set: { owner, expiresAtMs: nowMs + ttlMs } });
        if (taken.modifiedCount === 1) return true;
      }
    }
    try {
      const doc = await this.leases.findOneAndUpdate(
        { _id, $or: [{ owner }, { expiresAtMs: { $lt: nowMs } }] },
        { $set: { owner, expiresAtMs: nowMs + ttlMs } },
        { upsert: true, returnDocument: 'after' },
      );
      return doc?.owner === owner;
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
      throw error;
    }
  }

  async release(owner: string): Promise<void> {
    await this.leases.deleteOne({ _id: this.options.projectionName, owner });
  }
}
