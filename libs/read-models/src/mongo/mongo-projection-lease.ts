import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { ProjectionLease } from '../projection-lease.port.js';

export interface MongoProjectionLeaseOptions {
  /** The read models' database: the lease lives beside what it protects. */
  readonly db: Db;
  /** E.g. `wallet_v1`: one lease per projection and version. */
  readonly projectionName: string;
  /**
   * Milliseconds since the epoch. Default: the server's clock (`hello.localTime`), the one
   * clock every contender shares; each host's own clock may be skewed by more than a TTL.
   * Injected by tests to control time.
   */
  readonly clock?: () => number | Promise<number>;
}

/** Slowest a lease operation may be, as a share of the TTL: a renewal that cannot finish well inside it must fail. */
const LEASE_OPERATION_SHARE_OF_TTL = 1 / 3;

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
 * Expiry times are on the server's clock (see `clock`), so hosts with skewed clocks agree
 * on when a lease lapsed; a renewal that takes longer than a third of the TTL fails.
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
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 3) throw new RangeError(`ttlMs must be an integer >= 3, got ${ttlMs}`);
    // A deadline on every operation: a renewal stuck on a dead socket must fail (and stop
    // the projector) before the lease lapses and a stand-by takes over.
    const timeoutMS = Math.floor(ttlMs * LEASE_OPERATION_SHARE_OF_TTL);
    const nowMs = await (this.options.clock ?? (() => this.serverNowMs(timeoutMS)))();
    const _id = this.options.projectionName;
    if (holderIsDead !== undefined) {
      const current = await this.leases.findOne({ _id }, { timeoutMS });
      if (current !== null && current.owner !== owner && holderIsDead(current.owner)) {
        // Conditional on the dead holder's name, so a live contender that got there first wins.
        const taken = await this.leases.updateOne(
          { _id, owner: current.owner },
          { $set: { owner, expiresAtMs: nowMs + ttlMs } },
          { timeoutMS },
        );
        if (taken.modifiedCount === 1) return true;
      }
    }
    try {
      const doc = await this.leases.findOneAndUpdate(
        { _id, $or: [{ owner }, { expiresAtMs: { $lt: nowMs } }] },
        { $set: { owner, expiresAtMs: nowMs + ttlMs } },
        // Explicit: the document itself, whatever the driver's default for result metadata.
        { upsert: true, returnDocument: 'after', includeResultMetadata: false, timeoutMS },
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

  private async serverNowMs(timeoutMS: number): Promise<number> {
    const hello = await this.options.db.command({ hello: 1 }, { timeoutMS });
    const localTime: unknown = hello.localTime;
    if (!(localTime instanceof Date) || Number.isNaN(localTime.getTime())) {
      throw new Error('the server did not report its clock (hello.localTime); cannot time the projection lease');
    }
    return localTime.getTime();
  }
}
