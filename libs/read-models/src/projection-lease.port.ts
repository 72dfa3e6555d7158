/**
 * At most one projector writes a projection at a time. The lease lives in the
 * read-model store; a holder renews it well inside `ttlMs`, and a stand-by takes it
 * over once it has lapsed. Revision guards on every row make a brief overlap harmless.
 */
export interface ProjectionLease {
  /**
   * Takes the lease if free or lapsed, or renews it if `owner` holds it. True when `owner` now holds it.
   * `holderIsDead` lets a caller that knows better (same host, holder's pid gone) take a live
   * lease at once instead of waiting out the TTL after a crash.
   */
  tryAcquire(owner: string, ttlMs: number, holderIsDead?: (holder: string) => boolean): Promise<boolean>;
  /** Gives the lease up if `owner` holds it, so a stand-by need not wait for the TTL. */
  release(owner: string): Promise<void>;
}
