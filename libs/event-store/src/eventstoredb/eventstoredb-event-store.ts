import { createHash } from 'node:crypto';
import {
  ANY,
  ErrorType,
  EventStoreDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type JSONType,
  type Position,
  type ReadPosition,
  type RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import {
  APPEND_BATCH_MAX,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventBatchHandler,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../event-store.port.js';

/*
 * EventStoreDB adapter for the `EventStore` port: a thin mapping onto the gRPC client.
 *
 * Global positions. The port wants `position: number`, strictly increasing in `$all` order.
 * We use the event's COMMIT position from `$all`, and we check it equals the prepare position.
 * Why that is sound (ESDB server source, EventStore/EventStore on GitHub):
 *  - Every append (gRPC `Append` / `BatchAppend`) is an *implicit* transaction: the writer
 *    writes one prepare record per event, each flagged `IsCommitted`, and no commit record
 *    (StorageWriterService, `Handle(StorageMessage.WritePrepares)`).
 *  - Reading `$all` (AllReader.ReadAllEventsForward) returns such an event as
 *    `CommitEventRecord(event, prepare.LogPosition)`: its commit position IS its own log
 *    position, so commit == prepare and it is unique per event, even for events written in
 *    one append. Live subscriptions get the same value (IndexCommitter publishes
 *    `EventCommitted(prepares[i].LogPosition, ...)`), and so do stream reads from 22.6 on
 *    (ResolvedEvent.CalculatePosition: a self-committed event is at (LogPosition, LogPosition)).
 *  - The append result's commit position is the log position of the last (`TransactionEnd`)
 *    prepare (StorageChaser -> `CommitAck(record.LogPosition, ...)`), i.e. exactly the
 *    position `$all` reports for the last event appended. Maintainer confirmation:
 *    EventStore-Client-Go#88 ("AppendToStream returns the last event's commit position").
 *  - Only explicit transactions (legacy TCP API, never gRPC) have several events sharing
 *    one commit position, with differing prepare positions. Prepare position is NOT the
 *    safer choice either: early 20.x servers reported the transaction position (first event
 *    of the append) as every event's prepare position over gRPC (fixed by KurrentDB#2522).
 * So: position = Number(commit); an event with commit != prepare is rejected loudly rather
 * than silently collapsing positions; resuming `after` = p uses {commit: p, prepare: p},
 * which is exactly the event's own TFPos. A `$all` read from a position includes the event
 * there (AllReader compares `>= pos`); we drop `position <= after` on reads and subscriptions.
 *
 * Event ids: ESDB needs UUIDs. A non-UUID id is mapped to a name-based (v5-style, SHA-1)
 * UUID so a retried command sends the same ids and ESDB deduplicates it. The original id
 * travels in metadata (`originalEventId`) so `eventId` reads back as the caller wrote it.
 *
 * Subscriptions: `subscribeToAll` with a stream-prefix filter, consumed through the client's
 * async iterator, so nothing is read while a batch is being handled (backpressure reaches the
 * gRPC stream). Filter checkpoints never appear as items (client 6.x hands them only to a
 * `checkpointReached` callback, which we do not pass); items without an event are skipped.
 * A drop resubscribes from the last position handed to the handler, with capped, jittered
 * exponential backoff; after `maxResubscribeAttempts` consecutive drops `onError` is called.
 *
 * Schema version: ESDB has no such field; it is stored as metadata `schemaVersion` and
 * removed from `metadata` again on read (default 1). Callers should not use the metadata
 * keys `schemaVersion` and `originalEventId` themselves: the adapter's values win.
 */

/** The few client methods the adapter uses; `EventStoreDBClient` satisfies it, tests pass a stub. */
export type EsdbClient = Pick<EventStoreDBClient, 'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'dispose'>;

export interface EventStoreDbEventStoreOptions {
  /** Consecutive subscription drops retried before `onError` is called. Default 8. */
  readonly maxResubscribeAttempts?: number;
  /** First resubscribe delay; doubles per consecutive attempt up to the max. Default 200 ms. */
  readonly resubscribeBaseDelayMs?: number;
  /** Upper bound of the resubscribe delay (before jitter). Default 10 s. */
  readonly resubscribeMaxDelayMs?: number;
  /** Page size for `readAll`/`readStream` when skipped (system, binary) events need another page. */
  readonly readPageSize?: number;
  /** Random source for backoff jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

const DEFAULTS = {
  maxResubscribeAttempts: 8,
  resubscribeBaseDelayMs: 200,
  resubscribeMaxDelayMs: 10_000,
  readPageSize: 500,
  random: Math.random,
} as const;

/** Fixed namespace for ids derived from non-UUID event ids. Changing it changes every derived id. */
export const EVENT_ID_NAMESPACE = '1ae5c9b3-a6fd-49b2-9894-9a3137e6cd8b';

const SCHEMA_VERSION_KEY = 'schemaVersion';
const ORIGINAL_EVENT_ID_KEY = 'originalEventId';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What servers before 22.6 put in the position of events read from a stream (ulong -1). */
const NO_POSITION = 2n ** 64n - 1n;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/**
 * The id sent to ESDB for one of our event ids: a UUID passes through (lower-cased, which is
 * how ESDB returns ids); anything else becomes a name-based UUID (RFC 4122 version 5 layout:
 * SHA-1 of namespace bytes + UTF-8 name, version and variant bits set). Deterministic.
 */
export function toEsdbEventId(eventId: string): string {
  if (isUuid(eventId)) return eventId.toLowerCase();
  const namespace = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex');
  const digest = createHash('sha1').update(namespace).update(eventId, 'utf8').digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`expected revision must be 'no_stream', 'any' or a non-negative integer, got ${String(expected)}`);
  }
  return BigInt(expected);
}

/** Our `position` for an ESDB `$all` position (see the module comment for why commit). */
export function toGlobalPosition(position: Position | undefined, context: string): number {
  if (position === undefined || position.commit === NO_POSITION || position.commit < 0n) {
    throw new Error(`${context}: EventStoreDB returned no $all position (stream reads carry one from server 22.6 on)`);
  }
  if (position.commit !== position.prepare) {
    throw new Error(
      `${context}: commit position ${position.commit} != prepare position ${position.prepare}; ` +
        'events from explicit (legacy TCP) transactions share a commit position and cannot map to a strictly increasing position',
    );
  }
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`${context}: commit position ${position.commit} exceeds Number.MAX_SAFE_INTEGER; it cannot be a safe integer position`);
  }
  return Number(position.commit);
}

/** Where to start reading `$all` to see events strictly after `after` (the read itself may include `after`). */
export function toReadPosition(after: number | null): ReadPosition {
  if (after === null) return START;
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be null or a non-negative safe integer, got ${after}`);
  return { commit: BigInt(after), prepare: BigInt(after) };
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`${what} ${value} is not a safe integer`);
  }
  return Number(value);
}

function isSystem(event: EsdbRecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return (
    error instanceof WrongExpectedVersionError ||
    (typeof error === 'object' && error !== null && (error as { type?: unknown }).type === ErrorType.WRONG_EXPECTED_VERSION)
  );
}

function isStreamNotFound(error: unknown): boolean {
  return (
    error instanceof StreamNotFoundError ||
    (typeof error === 'object' && error !== null && (error as { type?: unknown }).type === ErrorType.STREAM_NOT_FOUND)
  );
}

/**
 * Our recorded event for an ESDB one, or `null` for what the port does not carry: system
 * events (type or stream starting with `$`), binary events, link-only entries.
 */
export function fromEsdbEvent(resolved: { readonly event?: EsdbRecordedEvent }): RecordedEvent | null {
  const event = resolved.event;
  if (event === undefined || isSystem(event) || !event.isJson) return null;
  const context = `event ${event.id} in ${event.streamId}@${event.revision}`;
  const stored =
    typeof event.metadata === 'object' && event.metadata !== null && !Array.isArray(event.metadata) && !(event.metadata instanceof Uint8Array)
      ? (event.metadata as Record<string, unknown>)
      : {};
  const { [SCHEMA_VERSION_KEY]: schemaVersion, [ORIGINAL_EVENT_ID_KEY]: originalEventId, ...metadata } = stored;
  return {
    streamId: event.streamId,
    revision: toSafeNumber(event.revision, `${context}: revision`),
    position: toGlobalPosition(event.position, context),
    eventId: typeof originalEventId === 'string' ? originalEventId : event.id,
    type: event.type,
    schemaVersion: typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion > 0 ? schemaVersion : 1,
    data: event.data,
    metadata: metadata as EventMetadata,
    recordedAt: event.created.toISOString(),
  };
}

export function toEsdbEvent(event: NewEvent) {
  const id = toEsdbEventId(event.eventId);
  const metadata: Record<string, unknown> = { ...event.metadata, [SCHEMA_VERSION_KEY]: event.schemaVersion };
  if (id !== event.eventId) metadata[ORIGINAL_EVENT_ID_KEY] = event.eventId;
  return jsonEvent({ id, type: event.type, data: event.data as JSONType, metadata });
}

const CLOSED = Symbol('closed');

export class EventStoreDbEventStore implements EventStore {
  private readonly settings: Required<EventStoreDbEventStoreOptions>;
  /** Tail of the in-process append chain per stream (see `append`). */
  private readonly appendTails = new Map<string, Promise<unknown>>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(
    private readonly client: EsdbClient,
    options: EventStoreDbEventStoreOptions = {},
  ) {
    this.settings = { ...DEFAULTS, ...options };
  }

  /** E.g. `esdb://localhost:2113?tls=false`. */
  static fromConnectionString(url: string, options: EventStoreDbEventStoreOptions = {}): EventStoreDbEventStore {
    return new EventStoreDbEventStore(EventStoreDBClient.connectionString(url), options);
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
        for await (const resolved of this.client.readStream(streamId, { fromRevision: from, maxCount: BigInt(pageSize) })) {
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
      for await (const resolved of this.client.readAll({ fromPosition: from, maxCount: BigInt(pageSize) })) {
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

  subscribe(options: SubscribeOptions, onEvents: EventBatchHandler, onError: (error: unknown) => void): Subscription {
    if (!Number.isSafeInteger(options.batchSizeMax) || options.batchSizeMax < 1) {
      throw new RangeError(`batchSizeMax must be a positive integer, got ${options.batchSizeMax}`);
    }
    let closed = false;
    let wake: () => void = () => undefined;
    const closedSignal = new Promise<typeof CLOSED>((resolve) => (wake = () => resolve(CLOSED)));
    let current: ReturnType<EsdbClient['subscribeToAll']> | null = null;

    const loop = async () => {
      let cursor = options.after;
      let failures = 0;
      while (!closed) {
        const subscription = this.client.subscribeToAll({
          fromPosition: toReadPosition(cursor),
          ...(options.streamPrefix !== '' ? { filter: streamNameFilter({ prefixes: [options.streamPrefix] }) } : {}),
        });
        current = subscription;
        subscription.on('confirmation', () => (failures = 0));
        const iterator = subscription[Symbol.asyncIterator]();
        let dropped: unknown = null;
        try {
          for (;;) {
            if (closed) return;
            let raw: AllStreamResolvedEvent[] | null | typeof CLOSED;
            try {
              raw = await nextRawBatch(subscription, iterator, options.batchSizeMax, closedSignal);
            } catch (error) {
              dropped = error;
              break;
            }
            if (raw === CLOSED) return;
            if (raw === null) {
              dropped = new Error('EventStoreDB ended the $all subscription');
              break;
            }
            failures = 0;
            const events: RecordedEvent[] = [];
            for (const resolved of raw) {
              const event = fromEsdbEvent(resolved);
              if (event === null || !event.streamId.startsWith(options.streamPrefix)) continue;
              if (cursor !== null && event.position <= cursor) continue;
              events.push(event);
            }
            if (events.length === 0) continue;
            if (closed) return;
            await onEvents(events);
            cursor = events[events.length - 1].position;
          }
        } finally {
          current = null;
          await subscription.unsubscribe().catch(() => undefined);
          // Settles a read still pending on this subscription; never awaited, so close cannot hang on it.
          subscription.destroy();
        }
        // The subscription dropped: resubscribe from the last delivered position, with backoff.
        failures += 1;
        if (failures > this.settings.maxResubscribeAttempts) throw dropped;
        if ((await sleepUnlessClosed(this.backoffMs(failures), closedSignal)) === CLOSED) return;
      }
    };

    const running = loop().catch((error: unknown) => {
      if (closed) return;
      closed = true;
      onError(error);
    });

    const handle: Subscription = {
      close: async () => {
        closed = true;
        wake();
        const active = current;
        if (active !== null) await active.unsubscribe().catch(() => undefined);
        await running;
        this.subscriptions.delete(handle);
      },
    };
    this.subscriptions.add(handle);
    void running.then(() => this.subscriptions.delete(handle));
    return handle;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await Promise.allSettled([...this.appendTails.values()]);
    await this.client.dispose();
  }

  /** Exponential, capped, with "equal jitter": half fixed, half random. */
  private backoffMs(attempt: number): number {
    const capped = Math.min(this.settings.resubscribeMaxDelayMs, this.settings.resubscribeBaseDelayMs * 2 ** (attempt - 1));
    return capped / 2 + (capped / 2) * this.settings.random();
  }

  private async appendNow(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    const expectedRevision = toEsdbExpectedRevision(expected);
    let result;
    try {
      result = await this.client.appendToStream(streamId, events.map(toEsdbEvent), { expectedRevision });
    } catch (error) {
      if (isWrongExpectedVersion(error)) {
        throw new WrongExpectedRevisionError(streamId, expected, toActualRevision(error.actualVersion));
      }
      throw error;
    }
    const lastRevision = toSafeNumber(result.nextExpectedRevision, `append to ${streamId}: revision`);
    if (result.position === undefined) {
      throw new Error(`append to ${streamId}: EventStoreDB returned no log position for the write`);
    }
    // Commit only: older servers put the transaction (first event) position in `prepare`.
    return { lastRevision, lastPosition: toGlobalPosition({ commit: result.position.commit, prepare: result.position.commit }, `append to ${streamId}`) };
  }
}

/** The client reports the current revision as a bigint, or `'no_stream'` (some paths: -1). */
export function toActualRevision(actual: WrongExpectedVersionError['actualVersion']): number | 'no_stream' {
  if (typeof actual !== 'bigint' || actual < 0n) return 'no_stream';
  return toSafeNumber(actual, 'actual revision');
}

function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

async function sleepUnlessClosed(ms: number, closedSignal: Promise<typeof CLOSED>): Promise<void | typeof CLOSED> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), closedSignal]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for at least one item, then takes what is already buffered, up to `max`. `null`
 * when the stream ended, `CLOSED` when the subscription was closed meanwhile; a stream
 * error rejects.
 */
async function nextRawBatch<T>(
  stream: { readonly readableLength: number },
  iterator: AsyncIterator<T>,
  max: number,
  closedSignal: Promise<typeof CLOSED>,
): Promise<T[] | null | typeof CLOSED> {
  const first = await Promise.race([iterator.next(), closedSignal]);
  if (first === CLOSED) return CLOSED;
  if (first.done) return null;
  const batch = [first.value];
  while (batch.length < max && stream.readableLength > 0) {
    const next = await iterator.next();
    if (next.done) break;
    batch.push(next.value);
  }
  return batch;
}
