/**
 * Which version of each projection is live. Stored beside the read models
 * (`projection_registry`: a SQLite table or a MongoDB collection), one row per projection:
 *
 *   name → active version, version being rebuilt (or none), time of the last change
 *
 * A rebuild's progress is the rebuilt version's own checkpoint (`projection_checkpoints`,
 * e.g. `wallet_v2`), so a killed rebuild resumes where that checkpoint stands. Changes are
 * conditional updates, so two processes cannot both start a rebuild or both switch.
 */
export interface ProjectionRegistryEntry {
  readonly name: string;
  readonly activeVersion: number;
  readonly rebuildingVersion: number | null;
  readonly updatedAt: string;
}

export interface ProjectionRegistry {
  /** The entry, created with `initialVersion` active if there is none yet. */
  ensure(name: string, initialVersion: number): Promise<ProjectionRegistryEntry>;
  get(name: string): Promise<ProjectionRegistryEntry | null>;
  list(): Promise<ProjectionRegistryEntry[]>;
  /** Records that `version` is being rebuilt; false if a rebuild is already recorded or `active` is no longer active. */
  beginRebuild(name: string, active: number, version: number): Promise<boolean>;
  /**
   * Makes the rebuilt `version` active and clears the rebuild, in one conditional write:
   * false (and nothing changes) unless `from` is active and `version` is being rebuilt.
   */
  switchActive(name: string, from: number, version: number): Promise<boolean>;
  /** Forgets a recorded rebuild of `version` (its tables are the caller's to drop). */
  abandonRebuild(name: string, version: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Storage name of one version of a projection: tables and collections are prefixed with it. */
export const projectionVersionName = (name: string, version: number): string => `${name}_v${version}`;
