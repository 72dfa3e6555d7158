import { BACKWARDS, END, KurrentDBClient, START, type Position, type ReadPosition } from '@kurrent/kurrentdb-client';
import {
  APPEND_BATCH_MAX,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventBatchHandler,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../event-store.port.js';
import {
  comparePositions,
  fromEsdbEvent,
  isStreamNotFound,
  isWrongExpectedVersion,
  toStoreRefusal,
  toActualRevision,
  toEsdbEvent,
  toEsdbExpectedRevision,
  toGlobalPosition,
  toReadPosition,
  toSafeNumber,
} from './eventstoredb-mappers.js';
import { drainWithin } from './eventstoredb-read-deadline.js';
import { EventStoreDbSnapshotStore } from './eventstoredb-snapshots.js';
import { subscribeToAllWithResubscribe, type SubscriptionHealth } from './eventstoredb-subscription.js';

export {
  EVENT_ID_NAMESPACE,
  fromEsdbEvent,
  isPermanentRefusal,
  isUuid,
  toActualRevision,
  toEsdbEvent,
  toEsdbEventId,
  toEsdbExpectedRevision,
  toGlobalPosition,
  toReadPosition,
} from './eventstoredb-mappers.js';
export type { SubscriptionHealth } from './eventstoredb-subscription.js';
export { SNAPSHOT_EVENT_TYPE, fromEsdbSnapshotEvent, snapshotStreamOf, toEsdbSnapshotEvent } from './eventstoredb-snapshots.js';

/*
 * EventStoreDB/KurrentDB adapter for the `EventStore` port: a thin mapping onto
 * @kurrent/kurrentdb-client (why not @eventstore/db-client 6.2.1: README, section "EventStoreDB").
 * Positions are `$all` commit positions (why that is sound: docs/positions.md); the
 * mappings live in `eventstoredb-mappers.ts`, the resubscribing subscription in
 * `eventstoredb-subscription.ts`.
 */

/** The few client methods the adapter uses; `KurrentDBClient` satisfies it, tests pass a stub. */
export type EsdbClient = Pick<KurrentDBClient, 'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'setStreamMetadata' | 'dispose'>;

export interface EventStoreDbEventStoreOptions {
  /** Consecutive subscription drops without a delivered batch before `onError` is called. Default 8. */
  readonly maxResubscribeAttempts?: number;
  /** First resubscribe delay; doubles per consecutive attempt up to the max. Default 200 ms. */
  readonly resubscribeBaseDelayMs?: number;
  /** Upper bound of the resubscribe delay (before jitter). Default 10 s. */
  readonly resubscribeMaxDelayMs?: number;
  /** Page size for `readAll`/`readStream` when skipped (system, binary) events need another page. */
  readonly readPageSize?: number;
  /**
   * Deadline of each read call (one page), enforced by the adapter (`drainWithin`: the client's
   * native read path ignores `deadline`). Default 10 s: a read on a dead or stalled connection
   * fails with `DeadlineExceededError` instead of hanging.
   */
  readonly readDeadlineMs?: number;
  /** Random source for backoff jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Where resubscriptions and refusals are reported. Default: one JSON line on stderr. */
  readonly log?: (level: 'warn' | 'error', message: string, error?: unknown) => void;
}

const DEFAULTS = {
  maxResubscribeAttempts: 8,
  resubscribeBaseDelayMs: 200,
  resubscribeMaxDelayMs: 10_000,
  readPageSize: 500,
  readDeadlineMs: 10_000,
  random: Math.random,
  log: (level: 'warn' | 'error', message: string, error?: unknown) => {
    const detail = error instanceof Error ? error.message : error === undefined ? undefined : String(error);
    process.stderr.write(`${JSON.stringify({ level, context: 'EventStoreDB', message, error: detail })}\n`);
  },
} as const;

/**
 * With `throwOnAppendFailure=false` the client resolves a conflicting append with
 * `success: false` (and, in 6.2.1 and 1.3.1 alike, a wrong `nextExpectedRevision`) instead of
 * throwing: refused at configuration time, so a conflict can never pass for a write.
 */
export function assertSupportedConnectionString(url: string): void {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const [key, value] of new URLSearchParams(query)) {
    if (key.toLowerCase() === 'throwonappendfailure' && value.toLowerCase() !== 'true') {
      throw new Error('EVENTSTORE_URL: throwOnAppendFailure=false is not supported; remove it (conflicts must raise errors)');
    }
  }
}

/**
 * `esdb://` and `esdb+discover://` (what EVENTSTORE_URL has always held) as `kurrentdb://` and
 * `kurrentdb+discover://`: the same settings, and both the client and its native bridge accept
 * both, but the client prints a plain-text deprecation warning for `esdb` on every connect,
 * outside our JSON logs.
 */
export function toKurrentDbScheme(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//i, (_match, discover: string | undefined) => `kurrentdb${discover ?? ''}://`);
}

export class EventStoreDbEventStore implements EventStore {
  private readonly settings: Required<EventStoreDbEventStoreOptions>;
  /** Tail of the in-process append chain per stream (see `append`). */
  private readonly appendTails = new Map<string, Promise<unknown>>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly health: SubscriptionHealth = { resubscribes: 0, lastDeliveryAtMs: null, lastHeartbeatAtMs: null, lastDropMessage: null };
  readonly snapshots: EventStoreDbSnapshotStore;

  constructor(
    private readonly client: EsdbClient,
    options: EventStoreDbEventStoreOptions = {},
  ) {
    this.settings = { ...DEFAULTS, ...options };
    this.snapshots = new EventStoreDbSnapshotStore(client, this.settings.readDeadlineMs);
  }

  /** E.g. `kurrentdb://localhost:2113?tls=false`; `esdb://` strings keep working (see `toKurrentDbScheme`). */
  static fromConnectionString(url: string, options: EventStoreDbEventStoreOptions = {}): EventStoreDbEventStore {
    assertSupportedConnectionString(url);
    return new EventStoreDbEventStore(KurrentDBClient.connectionString(toKurrentDbScheme(url)), options);
  }

  /** A snapshot of the subscriptions' health: resubscriptions, last delivery and last word from the server. */
  subscriptionHealth(): SubscriptionHealth {
    return { ...this.health };
  }

  /**
   * Appends to one stream in this process run one after another, so two appends issued in
   * the same tick (no_stream, then 0) reach the server in call order. Across processes,
   * ESDB's expected-revision check is the only arbiter.
   */
  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (events.length === 0 || events.length > APPEND_BATCH_MAX) {
      return Promise.reject(new RangeError(`append takes 1..${APPEND_BATCH_MAX} events`));
    }
    const previous = this.appendTails.get(streamId) ?? Promise.resolve();
    const run = previous.then(() => this.appendNow(streamId, expected, events));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.appendTails.set(streamId, tail);
    void tail.then(() => {
      if (this.appendTails.get(streamId) === tail) this.appendTails.delete(streamId);
    });
    return run;
  }

  async readStream(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    let from = BigInt(options.fromRevision);
    while (out.length < options.maxCount) {
      const pageSize = Math.min(Math.max(options.maxCount - out.length, 1), this.settings.readPageSize);
      let raw = 0;
      let lastRevision: bigint | null = null;
      try {
        // requiresLeader: the write side decides on what it reads here; a follower may lag.
        const page = await this.readPage(
          this.client.readStream(streamId, {
            fromRevision: from,
            maxCount: BigInt(pageSize),
            requiresLeader: true,
            deadline: this.settings.readDeadlineMs,
          }),
          `read ${streamId}`,
        );
        for (const resolved of page) {
          raw += 1;
          if (resolved.event) lastRevision = resolved.event.revision;
          const event = fromEsdbEvent(resolved);
          if (event !== null && out.length < options.maxCount) out.push(event);
        }
      } catch (error) {
        if (isStreamNotFound(error)) return out;
        throw error;
      }
      // A short page is the end of the stream; a full one may have had skipped events.
      if (raw < pageSize || lastRevision === null) return out;
      from = lastRevision + 1n;
    }
    return out;
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    const after = options.after;
    let from: ReadPosition = toReadPosition(after);
    let skipUpTo: Position | null = from === START ? null : (from as Position);
    while (out.length < options.maxCount) {
      // +1: a read from a position includes the event at that position, which we drop.
      const pageSize = Math.min(Math.max(options.maxCount - out.length, 1) + 1, this.settings.readPageSize + 1);
      let raw = 0;
      let last: Position | null = null;
      const page = await this.readPage(
        this.client.readAll({ fromPosition: from, maxCount: BigInt(pageSize), deadline: this.settings.readDeadlineMs }),
        'read $all',
      );
      for (const resolved of page) {
        raw += 1;
        const position = resolved.event?.position;
        if (position !== undefined) {
          if (skipUpTo !== null && comparePositions(position, skipUpTo) <= 0) continue;
          last = position;
        }
        const event = fromEsdbEvent(resolved);
        if (event === null || (after !== null && event.position <= after)) continue;
        if (out.length < options.maxCount) out.push(event);
      }
      if (raw < pageSize || last === null) return out;
      from = last;
      skipUpTo = last;
    }
    return out;
  }

  /** The last record of `$all`, system records included: read backwards from the end, one record. */
  async headPosition(): Promise<number | null> {
    const page = await this.readPage(
      this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1n, deadline: this.settings.readDeadlineMs }),
      'read the $all head',
    );
    for (const resolved of page) {
      const position = resolved.event?.position;
      if (position !== undefined) return toSafeNumber(position.commit, '$all head position');
    }
    return null;
  }

  subscribe(options: SubscribeOptions, onEvents: EventBatchHandler, onError: (error: unknown) => void): Subscription {
    const subscription = subscribeToAllWithResubscribe(this.client, options, onEvents, onError, this.settings, this.health);
    const handle: Subscription = {
      close: async () => {
        await subscription.close();
        this.subscriptions.delete(handle);
      },
    };
    this.subscriptions.add(handle);
    void subscription.done.then(() => this.subscriptions.delete(handle));
    return handle;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await Promise.allSettled([...this.appendTails.values()]);
    await this.client.dispose();
  }

  private async appendNow(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    const expectedRevision = toEsdbExpectedRevision(expected);
    let result;
    try {
      result = await this.client.appendToStream(streamId, events.map(toEsdbEvent), { streamState: expectedRevision });
    } catch (error) {
      if (isWrongExpectedVersion(error)) {
        throw new WrongExpectedRevisionError(streamId, expected, toActualRevision(error.actualState));
      }
      throw toStoreRefusal(streamId, error) ?? error;
    }
    if (!result.success) {
      // Only reachable with throwOnAppendFailure=false (refused in fromConnectionString); the
      // result's revision is then unreliable, so the actual one is read from the stream.
      throw new WrongExpectedRevisionError(streamId, expected, await this.streamHead(streamId));
    }
    const lastRevision = toSafeNumber(result.nextExpectedRevision, `append to ${streamId}: revision`);
    if (result.position === undefined) {
      // An idempotent retry of an append ESDB already has may come back without a position:
      // the events are stored, so their position is looked up rather than failing the write.
      return { lastRevision, lastPosition: await this.positionOf(streamId, lastRevision) };
    }
    // Commit only: older servers put the transaction (first event) position in `prepare`.
    return { lastRevision, lastPosition: toGlobalPosition({ commit: result.position.commit, prepare: result.position.commit }, `append to ${streamId}`) };
  }

  /**
   * One read page within `readDeadlineMs`. The `deadline` option is still passed on each read:
   * 1.3.1's native read path drops it (see eventstoredb-read-deadline.ts), but a client that
   * forwards it again would then also let the server give up on the call.
   */
  private readPage<T>(page: AsyncIterable<T>, what: string): Promise<T[]> {
    return drainWithin(page, this.settings.readDeadlineMs, what);
  }

  /** The revision of the stream's last event, or 'no_stream'. */
  private async streamHead(streamId: string): Promise<number | 'no_stream'> {
    try {
      const page = await this.readPage(
        this.client.readStream(streamId, {
          direction: BACKWARDS,
          fromRevision: END,
          maxCount: 1n,
          requiresLeader: true,
          deadline: this.settings.readDeadlineMs,
        }),
        `read the head of ${streamId}`,
      );
      for (const resolved of page) {
        if (resolved.event !== undefined) return toSafeNumber(resolved.event.revision, `${streamId} head revision`);
      }
      return 'no_stream';
    } catch (error) {
      if (isStreamNotFound(error)) return 'no_stream';
      throw error;
    }
  }

  /** The global position of the event at `revision` of a stream. */
  private async positionOf(streamId: string, revision: number): Promise<number> {
    const page = await this.readPage(
      this.client.readStream(streamId, {
        fromRevision: BigInt(revision),
        maxCount: 1n,
        requiresLeader: true,
        deadline: this.settings.readDeadlineMs,
      }),
      `read ${streamId}@${revision}`,
    );
    for (const resolved of page) {
      if (resolved.event !== undefined) return toGlobalPosition(resolved.event.position, `${streamId}@${revision}`);
    }
    throw new Error(`append to ${streamId}: EventStoreDB reported revision ${revision} but the stream has no such event`);
  }
}

