import Database from 'better-sqlite3';
import type { EventMetadata } from '../event-store.port.js';
import type { LogHead } from '../log-head.js';

const NO_METADATA: EventMetadata = Object.freeze({});

type LogRow = [position: number, streamId: string, revision: number, type: string, schemaVersion: number, data: string];

/**
 * The embedded store's log, counted with one indexed query and read in bulk on a read-only
 * connection of its own (WAL: it never blocks the writer), skipping metadata.
 */
export function openSqliteLogHead(filename: string): LogHead {
  const db = new Database(filename, { readonly: true, fileMustExist: true });
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
