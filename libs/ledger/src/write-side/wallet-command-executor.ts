import { randomUUID } from 'node:crypto';
import {
  DomainError,
  decide,
  encodeWalletEvent,
  evolveAll,
  initialWalletState,
  decodeWalletEvent,
  walletStreamId,
  type DeciderConfig,
  type WalletCommand,
  type WalletState,
} from '#domain';
import {
  APPEND_BATCH_MAX,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
} from '#event-store';
import type { CommandObserver } from '../observability/ledger-metrics.js';
import { StreamLane, type AppendBatch } from './stream-lane.js';

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
  readonly clock: () => Date;
  readonly observer?: CommandObserver;
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
        // A conflict or a refused request (e.g. too many events) cannot succeed by resending it.
        const final = error instanceof WrongExpectedRevisionError || error instanceof RangeError;
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

  private async load(lane: StreamLane): Promise<void> {
    let state = initialWalletState();
    let lastPosition: number | null = null;
    for (;;) {
      const page = await this.store.readStream(lane.streamId, { fromRevision: state.version, maxCount: this.options.readPageSize });
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
