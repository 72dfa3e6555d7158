import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteLogHead, scanningLogHead, SqliteEventStore, type EventStore, type LogHead } from '#event-store';
import {
  projectionVersionName,
  SqliteProjectionLease,
  SqliteProjectionRegistry,
  SqliteReadModelStore,
  WALLET_PROJECTION,
} from '#read-models';
import type { LedgerConfig } from './ledger-config.js';
import type { ReadModelBackend } from './read-side/versions/read-model-backend.js';
import { ACTIVE_READ_MODELS_DEFAULTS, ActiveReadModels } from './read-side/versions/active-read-models.js';

/*
 * The one place that chooses backends from the configuration: the event store (SQLite or
 * EventStoreDB), the read models (SQLite or MongoDB) with their registry and leases, and how
 * the log is read in bulk. The production adapters are imported lazily, so an embedded
 * install never loads the EventStoreDB or MongoDB clients.
 */

/** How long an embedded-store connection waits for another connection's lock. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
const EVENTS_FILE_NAME = 'events.sqlite';
const READ_MODELS_FILE_NAME = 'read-models.sqlite';

export function eventsFile(dataDir: string): string {
  return join(dataDir, EVENTS_FILE_NAME);
}

export function readModelsFile(dataDir: string): string {
  return join(dataDir, READ_MODELS_FILE_NAME);
}

export async function openEventStore(config: LedgerConfig): Promise<EventStore> {
  if (config.eventStoreUrl !== null) {
    const { EventStoreDbEventStore } = await import('#event-store/eventstoredb');
    return EventStoreDbEventStore.fromConnectionString(config.eventStoreUrl);
  }
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteEventStore({
    filename: eventsFile(config.dataDir),
    groupCommitMax: 512,
    idlePollMs: 200,
    busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
    clock: () => new Date(),
    // The index forgets a key an hour after the deciders do: a key is only ever forgotten by the
    // store once no decision, even on a clock an hour behind the store's, could still see it.
    keyRetentionMs: config.idempotencyRetentionMs + KEY_FORGET_MARGIN_MS,
  });
}

const KEY_FORGET_MARGIN_MS = 3_600_000;

/** Whether the configured event store exists yet (the embedded file is created by the API on first start). */
export function eventStoreExists(config: LedgerConfig): boolean {
  return config.eventStoreUrl !== null || existsSync(eventsFile(config.dataDir));
}

/**
 * Bulk reading of the log for rebuilds and audits: the embedded store is counted and read
 * with its own indexed queries; other stores go through the port (counting bounded).
 */
export function openLogHead(config: LedgerConfig, eventStore: EventStore): LogHead {
  if (config.eventStoreUrl !== null || !eventStoreExists(config)) return scanningLogHead(eventStore);
  return openSqliteLogHead(eventsFile(config.dataDir));
}

/**
 * The read models of the projection version the registry marks active, following a
 * blue/green switch (`ledger projections rebuild`) while the process runs.
 */
export async function openReadModels(config: LedgerConfig): Promise<ActiveReadModels> {
  return ActiveReadModels.open(await openReadModelBackend(config), {
    name: WALLET_PROJECTION.name,
    initialVersion: WALLET_PROJECTION.version,
    ...ACTIVE_READ_MODELS_DEFAULTS,
  });
}

export async function openReadModelBackend(config: LedgerConfig): Promise<ReadModelBackend> {
  return config.mongoUrl !== null ? openMongoBackend(config.mongoUrl, config.mongoDbName) : openSqliteBackend(config.dataDir);
}

export function describeBackends(config: LedgerConfig): string {
  const events = config.eventStoreUrl !== null ? 'EventStoreDB' : `SQLite (${eventsFile(config.dataDir)})`;
  const reads = config.mongoUrl !== null ? `MongoDB (db ${config.mongoDbName})` : `SQLite (${readModelsFile(config.dataDir)})`;
  return `event store: ${events}; read models: ${reads}; projector: ${config.projectorMode}`;
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
  const [{ MongoClient }, { MongoReadModelStore, MongoProjectionLease, MongoProjectionRegistry, mongoClientOptions }] =
    await Promise.all([import('mongodb'), import('#read-models/mongo')]);
  // Majority writes, primary reads, bounded pool and timeouts: see `mongoClientOptions`.
  const client = new MongoClient(url, mongoClientOptions());
  await client.connect();
  const db = client.db(dbName);
  const registry = new MongoProjectionRegistry({ db, clock: () => new Date() });
  return {
    kind: 'mongo',
    registry,
    openVersion: (version) => MongoReadModelStore.attach(client, db, version),
    checkpointOf: (version) => registry.checkpointOf(projectionVersionName(WALLET_PROJECTION.name, version)),
    async lease(name) {
      // No clock: the lease is timed by the server's clock, which every host shares.
      return new MongoProjectionLease({ db, projectionName: name });
    },
    close: () => client.close(),
  };
}
