import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectionLease } from '../../../read-models/src/projection-lease.port.js';
import { projectionVersionName, type ProjectionRegistry } from '../../../read-models/src/projection-registry.js';
import { SqliteProjectionRegistry } from '../../../read-models/src/projection-registry.sqlite.js';
import { WALLET_PROJECTION, type ReadModelStore } from '../../../read-models/src/read-model.port.js';
import { SqliteProjectionLease } from '../../../read-models/src/sqlite/sqlite-projection-lease.js';
import { SqliteReadModelStore } from '../../../read-models/src/sqlite/sqlite-read-model-store.js';
import type { LedgerConfig } from '../ledger-config.js';

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

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

export async function openReadModelBackend(config: LedgerConfig): Promise<ReadModelBackend> {
  return config.mongoUrl !== null ? openMongoBackend(config.mongoUrl, config.mongoDbName) : openSqliteBackend(config.dataDir);
}

export function readModelsFile(dataDir: string): string {
  return join(dataDir, 'read-models.sqlite');
}

function openSqliteBackend(dataDir: string): ReadModelBackend {
  mkdirSync(dataDir, { recursive: true });
  const filename = readModelsFile(dataDir);
  const registry = new SqliteProjectionRegistry({ filename, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS, clock: () => new Date() });
  return {
    kind: 'sqlite',
    registry,
    async openVersion(version) {
      return new SqliteReadModelStore({ filename, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS }, version);
    },
    async checkpointOf(version) {
      return registry.checkpointOf(projectionVersionName(WALLET_PROJECTION.name, version));
    },
    async lease(name) {
      return new SqliteProjectionLease({
        filename,
        projectionName: name,
        busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
        clock: () => Date.now(),
      });
    },
    close: () => registry.close(),
  };
}

async function openMongoBackend(url: string, dbName: string): Promise<ReadModelBackend> {
  const [{ MongoClient }, { MongoReadModelStore, MongoProjectionLease }, { MongoProjectionRegistry }] = await Promise.all([
    import('mongodb'),
    import('../../../read-models/src/mongo/index.js'),
    import('../../../read-models/src/projection-registry.mongo.js'),
  ]);
  // int64 values within 2^53 come back as plain numbers; undefined fields are not written.
  const client = new MongoClient(url, { promoteLongs: true, ignoreUndefined: true });
  await client.connect();
  const db = client.db(dbName);
  const registry = new MongoProjectionRegistry({ db, clock: () => new Date() });
  return {
    kind: 'mongo',
    registry,
    openVersion: (version) => MongoReadModelStore.attach(client, db, version),
    checkpointOf: (version) => registry.checkpointOf(projectionVersionName(WALLET_PROJECTION.name, version)),
    async lease(name) {
      return new MongoProjectionLease({ db, projectionName: name, clock: () => Date.now() });
    },
    close: () => client.close(),
  };
}
