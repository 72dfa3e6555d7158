import { randomUUID } from 'node:crypto';
import {
  DomainError,
  assertNever,
  decide,
  encodeWalletEvent,
  evolveAll,
  initialWalletState,
  decodeWalletEvent,
  idempotencyRecordOf,
  WALLET_STATE_VERSION,
  walletStreamId,
  type DeciderConfig,
  type IdempotencyIndex,
  type IdempotencyRecord,
  type LedgerEntryData,
  type WalletCommand,
  type WalletEvent,
  type WalletState,
} from '#domain';
import {
  APPEND_BATCH_MAX,
  StoreRefusedError,
  WrongExpectedRevisionError,
  readTrustedSnapshot,
  type AppendResult,
  type EventMetadata,
  type EventStore,
} from '#event-store';
import type { CommandObserver } from '../observability/ledger-metrics.js';
import { StreamLane, type AppendBatch } from './stream-lane.js';
import { walletStateFromJson, walletStateToJson } from './wallet-snapshot.js';

export interface ExecutorOptions {
  /** Retries of a command after a concurrency conflict. */
  readonly retriesMax: number;
  /** Retries of one identical append after an error of unknown outcome (safe: same ids, same expected revision). */
  readonly appendRetriesMax: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Streams whose state stays cached; the least recently used idle ones are dropped past this. */
  readonly streamCacheMax: number;
  readonly readPageSize: number;
  /**
   * Events between two snapshots of a stream (when the store keeps snapshots); absent: none are
   * written. A cold load then folds at most this many events after the snapshot.
   */
  readonly snapshotEveryEvents?: number;
  /**
   * Idempotency keys each cached stream keeps in memory when the store indexes keys
   * (`EventStore.keys`); older ones are found through the store. Absent, or a store without a
   * key index: every live key stays in memory (bounded by retention only).
   */
  readonly keysCachedMax?: number;
  readonly clock: () => Date;
  readonly observer?: CommandObserver;
  /** Where trouble that never fails a command (a snapshot not read or not written) is reported. Default: a JSON line on stderr. */
  readonly warn?: (message: string, error: unknown) => void;
}

export interface CommandContext {
  readonly correlationId: string;
  readonly actor: string;
  /** Stored with the command's events, for audit only (e.g. an imported entry's original `occurred_at`); never read by the decider. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface Executed<R> {
  readonly result: R;
  /** Global position the read models must reach to show this command; null when it wrote nothing new. */
  readonly position: number | null;
}

type Outcome<R> = (
  | { readonly kind: 'appended'; readonly result: R; readonly batch: AppendBatch }
  | { readonly kind: 'unchanged'; readonly result: R; readonly settled: Promise<boolean>; readonly lane: StreamLane }
  | { readonly kind: 'refused'; readonly error: DomainError; readonly settled: Promise<boolean>; readonly lane: StreamLane }
) & { readonly commandType: string };

/** Thrown when a command could not be applied within its retry budget (contention or store trouble). */
export class CommandRetriesExhaustedError extends Error {
  constructor(streamId: string, attempts: number, cause: unknown) {
    super(`Command on ${streamId} failed after ${attempts} attempts`, { cause });
    this.name = 'CommandRetriesExhaustedError';
  }
}

/**
 * Runs wallet commands: load (once, then cached) → decide → append with the expected
 * revision. Every outcome, including a refusal or an idempotent replay, is final only
 * once everything it was decided on is stored; otherwise the command runs again on
 * state reloaded from the store.
 */
export class WalletCommandExecutor {
  private readonly lanes = new Map<string, StreamLane>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: DeciderConfig,
    private readonly options: ExecutorOptions,
  ) {}

  async execute<R>(
    customerId: string,
    makeCommand: (now: string) => WalletCommand,
    resultOf: (state: WalletState, command: WalletCommand) => R,
    context: CommandContext,
  ): Promise<Executed<R>> {
    const streamId = walletStreamId(customerId);
    const commandId = randomUUID();
    let lastError: unknown;
    let commandType = 'unknown';
    // With a key index, a key not in memory is always looked up: the state may lack keys even with
    // no eviction here (a snapshot written by a process that evicts carries only its cached keys).
    const key = this.store.keys !== undefined ? idempotencyKeyOf(makeCommand(this.options.clock().toISOString())) : null;
    for (let attempt = 0; attempt <= this.options.retriesMax; attempt += 1) {
      if (attempt > 0) await sleep(backoffMs(attempt, this.options));
      const ready = await this.laneKnowing(streamId, key);
      // Checked again here, synchronously up to the decision (an await, even a return from an
      // async function, lets an append's completion evict keys): nothing can evict the key now.
      if (ready === null || (key !== null && !this.keyKnown(ready.lane, key, ready.lookup))) {
        lastError = new Error(`idempotency key of ${streamId} kept moving out of memory during its lookups`);
        continue;
      }
      const lane = ready.lane;
      const outcome = this.decideOn(lane, makeCommand, resultOf, { ...context, commandId });
      commandType = outcome.commandType;
      const settled = await this.settleObserved(outcome);
      if (settled.ok) return settled.value;
      lastError = settled.error;
    }
    this.options.observer?.outcome(commandType, 'failed');
    throw new CommandRetriesExhaustedError(streamId, this.options.retriesMax + 1, lastError);
  }

  private async settleObserved<R>(outcome: Outcome<R>) {
    const observer = this.options.observer;
    if (observer === undefined) return this.settle(outcome);
    const command = outcome.commandType;
    try {
      const settled = await this.settle(outcome);
      if (settled.ok) observer.outcome(command, outcome.kind === 'appended' ? 'applied' : 'unchanged');
      return settled;
    } catch (error) {
      observer.outcome(command, error instanceof DomainError ? 'refused' : 'failed');
      throw error;
    }
  }

  private async settle<R>(outcome: Outcome<R>): Promise<{ ok: true; value: Executed<R> } | { ok: false; error: unknown }> {
    switch (outcome.kind) {
      case 'appended':
        try {
          const appended = await outcome.batch.done;
          return { ok: true, value: { result: outcome.result, position: appended.lastPosition } };
        } catch (error) {
          if (error instanceof WrongExpectedRevisionError) return { ok: false, error };
          throw error;
        }
      case 'unchanged':
        if (!(await outcome.settled) || (await this.movedOn(outcome.lane))) {
          return { ok: false, error: new Error('decided on state that is no longer current') };
        }
        // Nothing new was written, but what the answer rests on (e.g. the original of a
        // replayed key) may not have reached the read models yet: wait for the stream's end.
        return { ok: true, value: { result: outcome.result, position: outcome.lane.lastPosition } };
      case 'refused':
        if (!(await outcome.settled) || (await this.movedOn(outcome.lane))) return { ok: false, error: outcome.error };
        throw outcome.error;
    }
  }

  /** Synchronous: nothing else can touch the lane's state while a command is decided. */
  private decideOn<R>(
    lane: StreamLane,
    makeCommand: (now: string) => WalletCommand,
    resultOf: (state: WalletState, command: WalletCommand) => R,
    context: CommandContext & { commandId: string },
  ): Outcome<R> {
    const state = lane.state ?? initialWalletState();
    const command = makeCommand(this.options.clock().toISOString());
    const commandType = command.type;
    let events;
    try {
      events = decide(command, state, this.decider);
    } catch (error) {
      if (error instanceof DomainError) return { kind: 'refused', error, settled: lane.settled(), lane, commandType };
      throw error;
    }
    if (events.length === 0) {
      return { kind: 'unchanged', result: resultOf(state, command), settled: lane.settled(), lane, commandType };
    }
    const next = evolveAll(state, events, this.decider);
    lane.state = next;
    // An append carries at most APPEND_BATCH_MAX events; a busier lane queues several batches.
    const batch = lane.batchFor(events.length, APPEND_BATCH_MAX);
    batch.stateAfter = next;
    const metadata: EventMetadata = { ...context.metadata, correlationId: context.correlationId, causationId: context.commandId, actor: context.actor };
    events.forEach((event, index) => {
      // Deterministic per command: a store that deduplicates by id (EventStoreDB) drops a resent copy.
      batch.events.push({ eventId: `${context.commandId}:${index}`, ...encodeWalletEvent(event), metadata, indexKey: indexKeyOf(event) });
    });
    this.flush(lane);
    return { kind: 'appended', result: resultOf(next, command), batch, commandType };
  }

  private flush(lane: StreamLane): void {
    if (lane.inFlight !== null) return;
    const batch = lane.pending.shift();
    if (batch === undefined) return;
    lane.inFlight = batch;
    const expected = lane.committedVersion === 0 ? 'no_stream' : lane.committedVersion - 1;
    this.appendWithRetry(lane.streamId, expected, batch).then(
      (result) => {
        lane.committedVersion += batch.events.length;
        lane.lastPosition = result.lastPosition;
        lane.inFlight = null;
        batch.resolve(result);
        this.flush(lane);
        if (lane.state !== null) this.evictKeys(lane, lane.state.idempotency, lane.committedVersion);
        this.maybeSnapshot(lane, batch.stateAfter);
      },
      (error: unknown) => this.failLane(lane, batch, error),
    );
  }

  /**
   * A write answers for itself (its append checks the expected revision), but a refusal or
   * a replay rests on cached state that another process may have moved past. Before such an
   * answer is final, one read confirms the stream has nothing beyond what this process knows;
   * if it has, the cache is dropped and the command decides again.
   */
  private async movedOn(lane: StreamLane): Promise<boolean> {
    const beyond = await this.store.readStream(lane.streamId, { fromRevision: lane.committedVersion, maxCount: 1 });
    if (beyond.length === 0) return false;
    if (lane.inFlight === null && lane.pending.length === 0) {
      lane.state = null;
      lane.committedVersion = 0;
      lane.lastPosition = null;
    }
    return true;
  }

  /** A failed append invalidates everything decided after it; those commands retry on reloaded state. */
  private failLane(lane: StreamLane, batch: AppendBatch, error: unknown): void {
    const pending = lane.pending.splice(0);
    lane.inFlight = null;
    lane.state = null;
    lane.committedVersion = 0;
    lane.lastPosition = null;
    batch.reject(error);
    for (const waiting of pending) waiting.reject(error);
  }

  private async appendWithRetry(streamId: string, expected: 'no_stream' | number, batch: AppendBatch): Promise<AppendResult> {
    for (let attempt = 0; ; attempt += 1) {
      const startedMs = performance.now();
      try {
        const result = await this.store.append(streamId, expected, batch.events);
        this.options.observer?.appended(performance.now() - startedMs, true);
        return result;
      } catch (error) {
        this.options.observer?.appended(performance.now() - startedMs, false);
        // A conflict or a refused request (too many events, too large, a deleted stream, denied
        // access) cannot succeed by resending it.
        const final = error instanceof WrongExpectedRevisionError || error instanceof RangeError || error instanceof StoreRefusedError;
        if (final || attempt >= this.options.appendRetriesMax) throw error;
        await sleep(backoffMs(attempt + 1, this.options));
      }
    }
  }

  private async readyLane(streamId: string): Promise<StreamLane> {
    let lane = this.lanes.get(streamId);
    if (lane === undefined) {
      lane = new StreamLane(streamId);
      this.lanes.set(streamId, lane);
      this.evictIdleLanes();
    } else {
      // Refresh recency: Map iteration order is our LRU order.
      this.lanes.delete(streamId);
      this.lanes.set(streamId, lane);
    }
    while (lane.state === null && lane.inFlight === null) {
      lane.loading ??= this.load(lane).finally(() => (lane.loading = null));
      await lane.loading;
    }
    return lane;
  }

  /**
   * Writes a snapshot of `state` (the lane's state right after a stored batch) once enough
   * events have been stored since the last one. Off the hot path: the write starts in a later
   * turn, after the commands of the batch have their answers, and its failure is only logged.
   * Its cost grows with the live idempotency keys the state carries; it is bounded by
   * SNAPSHOT_STATE_BYTES_MAX (a bigger state is refused, and the stream folds from its last
   * smaller snapshot) until keys leave the state for the store's own index.
   */
  private maybeSnapshot(lane: StreamLane, state: WalletState | null): void {
    const every = this.options.snapshotEveryEvents;
    const snapshots = this.store.snapshots;
    if (every === undefined || snapshots === undefined || state === null || lane.snapshotting) return;
    // Only a state that is exactly what the store holds (a later failure resets the lane anyway).
    if (state.version !== lane.committedVersion) return;
    if (state.version - lane.snapshotVersion < every) return;
    lane.snapshotting = true;
    setImmediate(() => {
      const keysNotBeforeMs = this.options.clock().getTime() - this.decider.idempotencyRetentionMs;
      Promise.resolve()
        .then(() =>
          snapshots.writeSnapshot({
            streamId: lane.streamId,
            revision: state.version - 1,
            stateVersion: WALLET_STATE_VERSION,
            state: walletStateToJson(state, keysNotBeforeMs),
          }),
        )
        .catch((error: unknown) => this.warn(`snapshot of ${lane.streamId} at version ${state.version} not written`, error))
        .finally(() => {
          // Written or not, the next attempt waits another `every` events: a state refused as too
          // large, or a store that cannot write, is not serialised again on every append.
          lane.snapshotVersion = Math.max(lane.snapshotVersion, state.version);
          lane.snapshotting = false;
        });
    });
  }

  /** The snapshot a load starts from, or null: none, another fold version, not on the stream, unreadable. */
  private async trustedSnapshot(streamId: string): Promise<{ state: WalletState; position: number } | null> {
    if (this.store.snapshots === undefined) return null;
    try {
      const trusted = await readTrustedSnapshot(this.store, streamId, WALLET_STATE_VERSION);
      if (trusted === null) return null;
      const state = walletStateFromJson(trusted.snapshot.state);
      if (state === null || state.version !== trusted.snapshot.revision + 1) {
        this.warn(
          `snapshot of ${streamId} at revision ${trusted.snapshot.revision} is malformed; folding the stream from its start`,
          null,
        );
        return null;
      }
      return { state, position: trusted.position };
    } catch (error) {
      // Only an optimisation: the stream read below is the truth, and fails on its own if the store is down.
      this.warn(`snapshot of ${streamId} not read; folding the stream from its start`, error);
      return null;
    }
  }

  private warn(message: string, error: unknown): void {
    if (this.options.warn !== undefined) {
      this.options.warn(message, error);
      return;
    }
    const detail = error instanceof Error ? error.message : error === null || error === undefined ? undefined : String(error);
    process.stderr.write(`${JSON.stringify({ level: 'warn', context: 'WalletCommandExecutor', message, error: detail })}\n`);
  }

  private async load(lane: StreamLane): Promise<void> {
    let state = initialWalletState();
    let lastPosition: number | null = null;
    const snapshot = await this.trustedSnapshot(lane.streamId);
    if (snapshot !== null) {
      state = snapshot.state;
      lastPosition = snapshot.position;
    }
    lane.snapshotVersion = state.version;
    for (;;) {
      const page = await this.store.readStream(lane.streamId, {
        fromRevision: state.version,
        maxCount: this.options.readPageSize,
      });
      state = evolveAll(state, page.map(decodeWalletEvent), this.decider);
      this.evictKeys(lane, state.idempotency, state.version);
      if (page.length > 0) lastPosition = page[page.length - 1].position;
      if (page.length < this.options.readPageSize) break;
    }
    lane.state = state;
    lane.committedVersion = state.version;
    lane.lastPosition = lastPosition;
  }

  /**
   * Bounds the keys held for a stream: the oldest go, as long as the store can find them again,
   * which means stored (at or below `committedVersion`; a pending one exists nowhere else) and
   * indexed (decided after the store's key index started, with a minute for clock differences).
   */
  private evictKeys(lane: StreamLane, index: IdempotencyIndex, committedVersion: number): void {
    const keep = this.options.keysCachedMax;
    const keys = this.store.keys;
    if (keep === undefined || keys === undefined || index.size <= keep) return;
    const indexedFromMs = keys.indexedSinceMs + KEY_INDEX_CLOCK_MARGIN_MS;
    index.evictOldest(keep, (record) => {
      const evictable = record.version <= committedVersion && record.occurredAtMs >= indexedFromMs;
      if (evictable) lane.keysEvictedUpToVersion = Math.max(lane.keysEvictedUpToVersion, record.version);
      return evictable;
    });
  }

  /**
   * The ready lane, with `key` (if any) known in its state as well as the store knows it, and the
   * lookup that made it so (the caller checks again, synchronously, before deciding); null when
   * evictions overtook KEY_LOOKUPS_MAX lookups in a row (the command then backs off).
   */
  private async laneKnowing(streamId: string, key: string | null): Promise<{ lane: StreamLane; lookup: KeyLookup | null } | null> {
    for (let lookups = 0; lookups < KEY_LOOKUPS_MAX; lookups += 1) {
      const lane = await this.readyLane(streamId);
      if (key === null) return { lane, lookup: null };
      const lookup = await this.lookUpKey(lane, key);
      if (this.keyKnown(lane, key, lookup)) return { lane, lookup };
    }
    return null;
  }

  /**
   * A key not in memory is looked up in the store's index, and its event read back, before the
   * decision. Returns the index it looked for (the lane's, at the time) and what it found.
   */
  private async lookUpKey(lane: StreamLane, key: string): Promise<KeyLookup | null> {
    const index = lane.state?.idempotency;
    const keys = this.store.keys;
    if (index === undefined || keys === undefined || index.has(key)) return null;
    // Everything stored up to here is in what the lookup sees.
    const committedVersion = lane.committedVersion;
    const found = await keys.findKey(lane.streamId, key);
    if (found === null) return { index, committedVersion, record: null };
    const [stored] = await this.store.readStream(lane.streamId, { fromRevision: found.revision, maxCount: 1 });
    const record = stored === undefined ? null : recordOf(decodeWalletEvent(stored), found.revision + 1);
    if (record === null || record.key !== key) {
      // The index and the log disagree: deciding now could apply the key twice.
      throw new Error(`key index of ${lane.streamId} points to revision ${found.revision}, which does not hold that key`);
    }
    return { index, committedVersion, record };
  }

  /** Whether the lane's state now knows `key` as well as the store does; a found record joins the state. */
  private keyKnown(lane: StreamLane, key: string, lookup: KeyLookup | null): boolean {
    const index = lane.state?.idempotency;
    if (index === undefined) return false;
    if (index.has(key)) return true;
    // The answer holds if it was looked up against this same line of states (not one reloaded
    // meanwhile), and saw every key evicted since: a key stored and evicted while the lookup was
    // under way is neither in memory nor, perhaps, in what the lookup read.
    if (lookup === null || lookup.index !== index || lane.keysEvictedUpToVersion > lookup.committedVersion) return false;
    if (lookup.record !== null) index.add(lookup.record);
    return true;
  }

  private evictIdleLanes(): void {
    if (this.lanes.size <= this.options.streamCacheMax) return;
    for (const [streamId, lane] of this.lanes) {
      if (this.lanes.size <= this.options.streamCacheMax) break;
      if (lane.idle) this.lanes.delete(streamId);
    }
  }
}

/** A key decided just before the key index started is treated as unindexed: clocks of deciders and store may differ this much. */
const KEY_INDEX_CLOCK_MARGIN_MS = 60_000;

/** Lookups of one key before a command backs off (an eviction during a lookup makes it look again). */
const KEY_LOOKUPS_MAX = 8;

interface KeyLookup {
  readonly index: IdempotencyIndex;
  /** The lane's stored version when the lookup started. */
  readonly committedVersion: number;
  readonly record: IdempotencyRecord | null;
}

function idempotencyKeyOf(command: WalletCommand): string | null {
  return command.type === 'RecordLedgerEntry' ? command.idempotencyKey : null;
}

/** The entry an event records, if it records one (what the key index and key lookups read). */
function entryOf(event: WalletEvent): { direction: 'credit' | 'debit'; data: LedgerEntryData } | null {
  switch (event.type) {
    case 'WalletCredited':
      return { direction: 'credit', data: event.data };
    case 'WalletDebited':
      return { direction: 'debit', data: event.data };
    case 'CustomerCreated':
    case 'CustomerUpdated':
    case 'WalletOpened':
      return null;
    default:
      return assertNever(event, 'event');
  }
}

function indexKeyOf(event: WalletEvent): string | null {
  return entryOf(event)?.data.idempotencyKey ?? null;
}

function recordOf(event: WalletEvent, version: number): IdempotencyRecord | null {
  const entry = entryOf(event);
  return entry === null ? null : idempotencyRecordOf(entry.direction, entry.data, version);
}

function backoffMs(attempt: number, options: ExecutorOptions): number {
  const ceiling = Math.min(options.backoffMaxMs, options.backoffBaseMs * 2 ** (attempt - 1));
  // Full jitter, so retries of contending commands spread out instead of colliding again.
  return Math.random() * ceiling;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
