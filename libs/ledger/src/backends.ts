import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EventStore } from '../../event-store/src/event-store.port.js';
import { SqliteEventStore } from '../../event-store/src/sqlite/sqlite-event-store.js';
import type { ProjectionLease } from '../../read-models/src/projection-lease.port.js';
import { WALLET_PROJECTION, type ReadModelStore } from '../../read-models/src/read-model.port.js';
import { SqliteProjectionLease } from '../../read-models/src/sqlite/sqlite-projection-lease.js';
import { SqliteReadModelStore } from '../../read-models/src/sqlite/sqlite-read-model-store.js';
import type { LedgerConfig } from './ledger-config.js';
import { ACTIVE_READ_MODELS_DEFAULTS, ActiveReadModels } from './projections/active-read-models.js';
import { openReadModelBackend } from './projections/read-model-backend.js';

export interface Backends {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** Human-readable, for the start-up log and `npm test` output. */
  readonly description: string;
}

const SQLITE_BUSY_TIMEOUT_MS = 5000;

export async function openEventStore(config: LedgerConfig): Promise<EventStore> {
  if (config.eventStoreUrl !== null) {
    const { EventStoreDbEventStore } = await import('../../event-store/src/eventstoredb/index.js');
    return EventStoreDbEventStore.fromConnectionString(config.eventStoreUrl);
  }
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteEventStore({
    filename: join(config.dataDir, 'events.sqlite'),
    groupCommitMax: 512,
    idlePollMs: 200,
    busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
    clock: () => new Date(),
  });
}

/**
 * The read models of the projection version the registry marks active, following a
 * blue/green switch (`ledger projections rebuild`) while the process runs.
 */
export async function openReadModels(config: LedgerConfig): Promise<ReadModelStore> {
  return ActiveReadModels.open(await openReadModelBackend(config), {
    name: WALLET_PROJECTION.name,
    initialVersion: WALLET_PROJECTION.version,
    ...ACTIVE_READ_MODELS_DEFAULTS,
  });
}

/** One fixed version of the read models, ignoring the registry (tests, tools). */
export async function openReadModelsVersion(config: LedgerConfig, version: number = WALLET_PROJECTION.version): Promise<ReadModelStore> {
  if (config.mongoUrl !== null) {
    const { MongoReadModelStore } = await import('../../read-models/src/mongo/index.js');
    return MongoReadModelStore.connect({ url: config.mongoUrl, dbName: config.mongoDbName, projectionVersion: version });
  }
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteReadModelStore({ filename: join(config.dataDir, 'read-models.sqlite'), busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS }, version);
}

/** The lease lives beside the read models it protects. */
export async function openProjectionLease(config: LedgerConfig, readModels: ReadModelStore): Promise<ProjectionLease> {
  // The live projector's lease keeps the name it always had, whichever version is active:
  // a process started before a switch and one started after must still exclude each other.
  const projectionName = `${WALLET_PROJECTION.name}_v${WALLET_PROJECTION.version}`;
  if (readModels instanceof ActiveReadModels) return readModels.backend.lease(projectionName);
  if (config.mongoUrl !== null) {
    const { MongoProjectionLease, MongoReadModelStore } = await import('../../read-models/src/mongo/index.js');
    if (!(readModels instanceof MongoReadModelStore)) throw new Error('Mongo lease needs the Mongo read models');
    return new MongoProjectionLease({ db: readModels.db, projectionName, clock: () => Date.now() });
  }
  return new SqliteProjectionLease({
    filename: join(config.dataDir, 'read-models.sqlite'),
    projectionName,
    busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
    clock: () => Date.now(),
  });
}

export function describeBackends(config: LedgerConfig): string {
  const events = config.eventStoreUrl !== null ? 'EventStoreDB' : `SQLite (${join(config.dataDir, 'events.sqlite')})`;
  const reads = config.mongoUrl !== null ? `MongoDB (db ${config.mongoDbName})` : `SQLite (${join(config.dataDir, 'read-models.sqlite')})`;
  return `event store: ${events}; read models: ${reads}; projector: ${config.projectorMode}`;
}
