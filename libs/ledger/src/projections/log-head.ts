import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EventMetadata, EventStore, RecordedEvent } from '../../../event-store/src/event-store.port.js';
import type { LedgerConfig } from '../ledger-config.js';

/**
 * What the rebuild and audit tools need of the log beyond the port: how far it runs past
 * a position (lag, work left), and reading it in bulk for projections.
 */
export interface LogHead {
  /** Events in the log after `after` (null: from the start). */
  countAfter(after: number | null): Promise<number>;
  /**
   * Events after `after` in global order, for projecting and auditing: everything but
   * their metadata (left empty) and `eventId`/`recordedAt` (left blank), which neither uses.
   */
  read(after: number | null, maxCount: number): Promise<RecordedEvent[]>;
  close(): Promise<void>;
}

/** Scanning stops here when the store cannot count (EventStoreDB): the count is then a lower bound. */
export const LOG_SCAN_MAX = 1_000_000;

const NO_METADATA: EventMetadata = Object.freeze({});

type LogRow = [position: number, streamId: string, revision: number, type: string, schemaVersion: number, data: string];

/**
 * The embedded store is counted with one indexed query and read in bulk on a read-only
 * connection of its own (WAL: it never blocks the writer), skipping metadata; other stores
 * go through the port (counting bounded by `LOG_SCAN_MAX`).
 */
export function openLogHead(config: LedgerConfig, eventStore: EventStore): LogHead {
  const file = join(config.dataDir, 'events.sqlite');
  if (config.eventStoreUrl !== null || !existsSync(file)) return scanningLogHead(eventStore);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const count = db.prepare('SELECT COUNT(*) AS n FROM events WHERE position > ?');
  const read = db
    .prepare(
      'SELECT position, stream_id, revision, type, schema_version, data FROM events WHERE position > ? ORDER BY position LIMIT ?',
    )
    .raw(true);
  return {
    async countAfter(after) {
      return (count.get(after ?? 0) as { n: number }).n;
    },
    async read(after, maxCount) {
      const rows = read.all(after ?? 0, maxCount) as LogRow[];
      return rows.map(([position, streamId, revision, type, schemaVersion, data]) => ({
        streamId,
        revision,
        position,
        eventId: '',
        type,
        schemaVersion,
        data: JSON.parse(data) as unknown,
        metadata: NO_METADATA,
        recordedAt: '',
      }));
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

export function scanningLogHead(eventStore: EventStore, max: number = LOG_SCAN_MAX): LogHead {
  return {
    async countAfter(after) {
      let count = 0;
      let position = after;
      while (count < max) {
        const events = await eventStore.readAll({ after: position, maxCount: Math.min(10_000, max - count) });
        if (events.length === 0) break;
        count += events.length;
        position = events[events.length - 1].position;
      }
      return count;
    },
    read: (after, maxCount) => eventStore.readAll({ after, maxCount }),
    async close() {},
  };
}
