import {
  WALLET_EVENT_SCHEMA_VERSIONS,
  decodeWalletEvent,
  isWalletEventType,
  walletStreamId,
  type WalletEvent,
} from '#domain';
import type { EventStore } from '#event-store';
import { readStream } from './audit.js';

/** One event of a customer's stream as `ledger replay` shows it. */
export interface ReplayedEvent {
  readonly revision: number;
  readonly position: number;
  readonly type: string;
  /** Schema version the event was stored with. */
  readonly schemaVersion: number;
  /** True when the stored version was older than the current one and `data` was upcast. */
  readonly upcast: boolean;
  /** The event's data in the current shape (as command handling and projections see it). */
  readonly data: unknown;
  readonly metadata: {
    /** When the store recorded the event. */
    readonly recordedAt: string;
    /** When it happened, as the event says (createdAt / openedAt / occurredAt). */
    readonly occurredAt: string | null;
    readonly idempotencyKey: string | null;
    readonly correlationId: string | null;
    readonly causationId: string | null;
    readonly actor: string | null;
  };
  /** Set when the event cannot be decoded by this build; `data` is then the stored data. */
  readonly error?: string;
}

/** Every event of one customer's stream, in order, decoded to the current shape. */
export async function replayCustomer(eventStore: EventStore, customerId: string): Promise<ReplayedEvent[]> {
  const events = await readStream(eventStore, walletStreamId(customerId));
  return events.map((recorded) => {
    let event: WalletEvent | null = null;
    let error: string | undefined;
    try {
      event = decodeWalletEvent(recorded);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const current = isWalletEventType(recorded.type) ? WALLET_EVENT_SCHEMA_VERSIONS[recorded.type] : recorded.schemaVersion;
    const meta = recorded.metadata;
    const replayed: ReplayedEvent = {
      revision: recorded.revision,
      position: recorded.position,
      type: recorded.type,
      schemaVersion: recorded.schemaVersion,
      upcast: event !== null && recorded.schemaVersion < current,
      data: event?.data ?? recorded.data,
      metadata: {
        recordedAt: recorded.recordedAt,
        occurredAt: event === null ? null : occurredAt(event),
        idempotencyKey: event !== null && 'idempotencyKey' in event.data ? event.data.idempotencyKey : null,
        correlationId: text(meta.correlationId),
        causationId: text(meta.causationId),
        actor: text(meta.actor),
      },
    };
    return error === undefined ? replayed : { ...replayed, error };
  });
}

function occurredAt(event: WalletEvent): string {
  switch (event.type) {
    case 'CustomerCreated':
      return event.data.createdAt;
    case 'CustomerUpdated':
      return event.data.updatedAt;
    case 'WalletOpened':
      return event.data.openedAt;
    default:
      return event.data.occurredAt;
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
