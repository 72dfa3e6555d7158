import type { ProjectionLease, ProjectionRegistry, ReadModelStore } from '#read-models';

/** One version of the wallet projection, as a backend opens it. */
export type VersionStore = ReadModelStore & {
  /** Drops the version's tables or collections and its checkpoint. */
  drop(): Promise<void>;
  /** While a rebuild fills a version nobody reads yet: defer what can be built in one go at the end. */
  beginBulkLoad?(): Promise<void>;
  endBulkLoad?(): Promise<void>;
};

export type LeaseHandle = ProjectionLease & { close?: () => Promise<void> };

/**
 * Everything about one read-model backend that is not a single version's data: the
 * projection registry, leases, and opening any version. SQLite keeps all of it in
 * `read-models.sqlite`; MongoDB in one database over one shared client.
 */
export interface ReadModelBackend {
  readonly kind: 'sqlite' | 'mongo';
  readonly registry: ProjectionRegistry;
  /** Opens (creating if missing) one version of the wallet projection. */
  openVersion(version: number): Promise<VersionStore>;
  /** A version's checkpoint without opening it. */
  checkpointOf(version: number): Promise<number | null>;
  lease(name: string): Promise<LeaseHandle>;
  close(): Promise<void>;
}
