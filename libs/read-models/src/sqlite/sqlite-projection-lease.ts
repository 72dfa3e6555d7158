import Database from 'better-sqlite3';
import type { ProjectionLease } from '../projection-lease.port.js';

export interface SqliteProjectionLeaseOptions {
  /** Usually the read models' own file, so the lease lives beside what it protects. */
  readonly filename: string;
  /** E.g. `wallet_v1`: one lease per projection and version. */
  readonly projectionName: string;
  readonly busyTimeoutMs: number;
  /** Milliseconds since the epoch; injected so tests control time. */
  readonly clock: () => number;
}

/**
 * One row per projection in `projection_leases`. Acquiring is a single upsert whose
 * update only fires for the holder or once the lease has lapsed, so it is atomic even
 * between processes sharing the file.
 */
export class SqliteProjectionLease implements ProjectionLease {
  private readonly db: Database.Database;
  private readonly acquire: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly holder: Database.Statement;
  private readonly takeFromDead: Database.Statement;

  constructor(private readonly options: SqliteProjectionLeaseOptions) {
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS projection_leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)',
    );
    this.acquire = this.db.prepare(
      `INSERT INTO projection_leases (name, owner, expires_at_ms) VALUES (@name, @owner, @expiresAtMs)
       ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
       WHERE projection_leases.owner = excluded.owner OR projection_leases.expires_at_ms < @nowMs`,
    );
    this.remove = this.db.prepare('DELETE FROM projection_leases WHERE name = ? AND owner = ?');
    this.holder = this.db.prepare('SELECT owner FROM projection_leases WHERE name = ?');
    // Compare-and-set on the dead holder's name: if anyone else got there first, nothing changes.
    this.takeFromDead = this.db.prepare(
      'UPDATE projection_leases SET owner = @owner, expires_at_ms = @expiresAtMs WHERE name = @name AND owner = @dead',
    );
  }

  async tryAcquire(owner: string, ttlMs: number, holderIsDead?: (holder: string) => boolean): Promise<boolean> {
    const nowMs = this.options.clock();
    if (holderIsDead !== undefined) {
      const row = this.holder.get(this.options.projectionName) as { owner: string } | undefined;
      if (row !== undefined && row.owner !== owner && holderIsDead(row.owner)) {
        const taken = this.takeFromDead.run({ name: this.options.projectionName, owner, expiresAtMs: nowMs + ttlMs, dead: row.owner });
        if (taken.changes === 1) return true;
      }
    }
    // A refused upsert (held and live) changes no row.
    const result = this.acquire.run({ name: this.options.projectionName, owner, expiresAtMs: nowMs + ttlMs, nowMs });
    return result.changes === 1;
  }

  async release(owner: string): Promise<void> {
    this.remove.run(this.options.projectionName, owner);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
