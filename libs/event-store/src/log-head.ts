import type { EventStore, RecordedEvent } from './event-store.port.js';

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

/** Any store, through the port: counting reads the log, bounded by `max`. */
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
