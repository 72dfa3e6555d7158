import { WALLET_STREAM_PREFIX } from '#domain';
import { checkLogIdentity, type EventStore, type RecordedEvent, type Subscription } from '#event-store';
import { isVersionedReadModels, type ReadModelStore } from '#read-models';
import { PositionWaiters } from './position-waiters.js';

/** What the projector itself knows of its progress, for health (see `projection-health.ts`). */
export interface ProjectorProgress {
  /** Global position of the last event applied, or the checkpoint it resumed from. */
  readonly appliedPosition: number | null;
  /** When a batch was last applied, in ms since the epoch. */
  readonly lastBatchAtMs: number | null;
  /** When the current subscription started (after the checkpoint checks passed). */
  readonly subscribedAtMs: number | null;
  /** Failed subscriptions or batches since the last applied batch. */
  readonly failuresInARow: number;
  readonly lastError: unknown;
}

export interface ProjectorOptions {
  readonly batchSizeMax: number;
  /** Pause before resubscribing after a failed batch. */
  readonly restartDelayMs: number;
  readonly log: (level: 'info' | 'error', message: string, error?: unknown) => void;
}

/**
 * Feeds the read models from the event store, from the read models' own
 * checkpoint. A failed batch is retried from the checkpoint; the read models'
 * position and revision guards make the repeat harmless.
 *
 * Read models that follow the projection registry (blue/green rebuilds) are fed one
 * pinned version per subscription; when another version becomes active the projector
 * resubscribes from that version's own checkpoint, so no version ever gets a gap.
 */
export class WalletProjector {
  private subscription: Subscription | null = null;
  private stopped = true;
  private readonly waiters = new PositionWaiters();
  private applied: number | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Bumped per subscription: errors of a subscription that was replaced are not acted on. */
  private generation = 0;
  /** The log was empty at subscribe: its identity is recorded with the first batch. */
  private logIdentityPending = false;
  private lastBatchAtMs: number | null = null;
  private subscribedAtMs: number | null = null;
  private failuresInARow = 0;
  private lastError: unknown = null;

  constructor(
    private readonly store: EventStore,
    private readonly readModels: ReadModelStore,
    private readonly options: ProjectorOptions,
  ) {
    if (isVersionedReadModels(readModels)) readModels.onWriteTargetChange(() => void this.resubscribe());
  }

  /** Global position of the last event this projector applied. */
  get position(): number | null {
    return this.applied;
  }

  get progress(): ProjectorProgress {
    return {
      appliedPosition: this.applied,
      lastBatchAtMs: this.lastBatchAtMs,
      subscribedAtMs: this.subscribedAtMs,
      failuresInARow: this.failuresInARow,
      lastError: this.lastError,
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.subscribe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.close();
    this.waiters.releaseAll();
  }

  /** Resolves true once the read models show `position`, false after `timeoutMs`. */
  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.applied !== null && this.applied >= position) return Promise.resolve(true);
    return this.waiters.wait(position, timeoutMs);
  }

  private async subscribe(): Promise<void> {
    const generation = ++this.generation;
    const target = isVersionedReadModels(this.readModels) ? this.readModels.writeTarget() : this.readModels;
    const checkpoint = await target.checkpoint();
    // A checkpoint from another log (backend switched, volume wiped) would skip events silently.
    await checkLogIdentity(this.store, target, checkpoint);
    this.logIdentityPending = (await target.logIdentity?.()) === null;
    if (generation !== this.generation || this.stopped) return;
    this.applied = checkpoint;
    this.waiters.reached(this.applied ?? 0);
    this.subscribedAtMs = Date.now();
    this.subscription = this.store.subscribe(
      { after: this.applied, batchSizeMax: this.options.batchSizeMax, streamPrefix: WALLET_STREAM_PREFIX },
      (events) => this.apply(target, events),
      (error) => {
        if (generation === this.generation) this.restart(error);
      },
    );
  }

  private async apply(target: ReadModelStore, events: readonly RecordedEvent[]): Promise<void> {
    await target.applyEvents(events);
    if (this.logIdentityPending) {
      await checkLogIdentity(this.store, target, null);
      this.logIdentityPending = false;
    }
    this.applied = events[events.length - 1].position;
    this.lastBatchAtMs = Date.now();
    this.failuresInARow = 0;
    this.waiters.reached(this.applied);
  }

  /** Another read-model version became active: continue from its own checkpoint. */
  private async resubscribe(): Promise<void> {
    if (this.stopped) return;
    this.generation += 1;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const previous = this.subscription;
    this.subscription = null;
    await previous?.close();
    if (this.stopped) return;
    this.options.log('info', 'read models switched version; resubscribing from its checkpoint');
    await this.subscribe().catch((error: unknown) => this.restart(error));
  }

  private restart(error: unknown): void {
    this.options.log('error', 'projection batch failed; resubscribing from the checkpoint', error);
    this.failuresInARow += 1;
    this.lastError = error;
    this.subscription = null;
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.subscribe().catch((e: unknown) => this.restart(e));
    }, this.options.restartDelayMs);
  }
}
