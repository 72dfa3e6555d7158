import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EventStore } from '../../../event-store/src/event-store.port.js';
import type { LedgerConfig } from '../ledger-config.js';

/** How far the log runs past a position: lag of a projection, work left for a rebuild. */
export interface LogHead {
  /** Events in the log after `after` (null: from the start). */
  countAfter(after: number | null): Promise<number>;
  close(): Promise<void>;
}

/** Scanning stops here when the store cannot count (EventStoreDB): the count is then a lower bound. */
export const LOG_SCAN_MAX = 1_000_000;

/**
 * The embedded store is counted with one indexed query on a read-only connection; other
 * stores by reading forward through the port (bounded by `LOG_SCAN_MAX`).
 */
export function openLogHead(config: LedgerConfig, eventStore: EventStore): LogHead {
  const file = join(config.dataDir, 'events.sqlite');
  if (config.eventStoreUrl === null && existsSync(file)) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const count = db.prepare('SELECT COUNT(*) AS n FROM events WHERE position > ?');
    return {
      async countAfter(after) {
        return (count.get(after ?? 0) as { n: number }).n;
      },
      async close() {
        if (db.open) db.close();
      },
    };
  }
  return scanningLogHead(eventStore);
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
    async close() {},
  };
}
