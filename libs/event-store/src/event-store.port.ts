import type { KeyIndex } from './key-index.port.js';
import type { SnapshotStore } from './snapshot-store.port.js';

/**
 * The event store port. Few methods on purpose: every adapter (in-memory, SQLite,
 * EventStoreDB) must pass the same contract suite (`event-store.contract.ts`).
 */

/** Who and why, stored beside each event for audit. */
export interface EventMetadata {
  readonly correlationId?: string;
  readonly causationId?: string;
  /** Non-secret fingerprint of the API key that acted; never the key itself. */
  readonly actor?: string;
  readonly [key: string]: unknown;
}

export interface NewEvent {
  /** Deterministic per command where possible, so a store can deduplicate a retried append. */
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  /** Indexed with the event by stores that keep a key index (see `key-index.port.ts`). */
  readonly indexKey?: string | null;
}

export interface RecordedEvent {
  readonly streamId: string;
  /** 0-based position inside the stream. */
  readonly revision: number;
  /** Position in the global log: strictly increasing in `readAll` order, a safe integer. */
  readonly position: number;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly recordedAt: string;
}

/** `'no_stream'`: the stream must not exist yet. A number: the revision of its last event. */
export type ExpectedRevision = 'no_stream' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event written. */
  readonly lastRevision: number;
  /** Global position of the last event written; read models that reach it show this append. */
  readonly lastPosition: number;
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). */
  readonly fromRevision: number;
  readonly maxCount: number;
}

export interface ReadAllOptions {
  /** Return events strictly after this position; `null` means from the start. */
  readonly after: number | null;
  readonly maxCount: number;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface SubscribeOptions {
  readonly after: number | null;
  /** Largest batch handed to `onEvents` at once. */
  readonly batchSizeMax: number;
  /** Only streams whose id starts with this prefix. */
  readonly streamPrefix: string;
}

/** What `subscriptionHealth` reports (the EventStoreDB adapter's snapshot has more fields). */
export interface SubscriptionHeartbeat {
  /** When the server last said anything on a subscription (an event, a confirmation, caught-up), in ms since the epoch. */
  readonly lastHeartbeatAtMs: number | null;
  /** Resubscriptions since the store was opened. */
  readonly resubscribes: number;
}

export type EventBatchHandler = (events: readonly RecordedEvent[]) => Promise<void>;

export interface EventStore {
  /** Where this store keeps snapshots of streams, when it can (see `snapshot-store.port.ts`). */
  readonly snapshots?: SnapshotStore;
  /** Where this store indexes the keys written with events, when it does. */
  readonly keys?: KeyIndex;
  /** Appends atomically, or throws `WrongExpectedRevisionError` and writes nothing. */
  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult>;
  /** Events of one stream in revision order; an unknown stream reads as empty. */
  readStream(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events of every stream in global order. */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Position of the last record in the log (system records included), or null when it is
   * empty. A checkpoint beyond it belongs to another log (see `checkLogIdentity`).
   */
  headPosition?(): Promise<number | null>;
  /**
   * Stores with server-pushed subscriptions (EventStoreDB) say when the server last spoke on
   * one, so a projector's health can tell an idle subscription from a dead one. Polling
   * stores (SQLite, in memory) have nothing to add to the projector's own delivery times.
   */
  subscriptionHealth?(): SubscriptionHeartbeat;
  /**
   * Catches up from `after`, then follows new events live. Batches are delivered one at
   * a time, in order; a handler that throws stops the subscription (reported via `onError`).
   */
  subscribe(options: SubscribeOptions, onEvents: EventBatchHandler, onError: (error: unknown) => void): Subscription;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/**
 * The store refused an append that resending cannot change: the write is too large, the stream
 * is deleted, or the credentials may not write it. Nothing was written; callers must not retry.
 */
export class StoreRefusedError extends Error {
  constructor(
    readonly streamId: string,
    readonly reason: 'too_large' | 'stream_deleted' | 'access_denied',
    options?: { cause?: unknown },
  ) {
    super(`Stream ${streamId}: the store refused the append (${reason})`, options);
    this.name = 'StoreRefusedError';
  }
}

export const APPEND_BATCH_MAX = 100;
