import { randomUUID } from 'node:crypto';
import {
  DomainError,
  decide,
  encodeWalletEvent,
  evolveAll,
  initialWalletState,
  decodeWalletEvent,
  WALLET_STATE_VERSION,
  walletStreamId,
  type DeciderConfig,
  type WalletCommand,
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
    for (let attempt = 0; attempt <= this.options.retriesMax; attempt += 1) {
      if (attempt > 0) await sleep(backoffMs(attempt, this.options));
      const lane = await this.readyLane(streamId);
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
      batch.events.push({ eventId: `${context.commandId}:${index}`, ...encodeWalletEvent(event), metadata });
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
        .then(
          () => {
            lane.snapshotVersion = Math.max(lane.snapshotVersion, state.version);
          },
          (error: unknown) => this.warn(`snapshot of ${lane.streamId} at version ${state.version} not written`, error),
        )
        .finally(() => {
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
      if (page.length > 0) lastPosition = page[page.length - 1].position;
      if (page.length < this.options.readPageSize) break;
    }
    lane.state = state;
    lane.committedVersion = state.version;
    lane.lastPosition = lastPosition;
  }

  private evictIdleLanes(): void {
    if (this.lanes.size <= this.options.streamCacheMax) return;
    for (const [streamId, lane] of this.lanes) {
      if (this.lanes.size <= this.options.streamCacheMax) break;
      if (lane.idle) this.lanes.delete(streamId);
    }
  }
}

function backoffMs(attempt: number, options: ExecutorOptions): number {
  const ceiling = Math.min(options.backoffMaxMs, options.backoffBaseMs * 2 ** (attempt - 1));
  // Full jitter, so retries of contending commands spread out instead of colliding again.
  return Math.random() * ceiling;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
