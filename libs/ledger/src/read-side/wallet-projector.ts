import { WALLET_STREAM_PREFIX } from '../../../domain/src/index.js';
import type { EventStore, RecordedEvent, Subscription } from '../../../event-store/src/event-store.port.js';
import type { ReadModelStore } from '../../../read-models/src/read-model.port.js';
import { PositionWaiters } from './position-waiters.js';

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
 */
export class WalletProjector {
  private subscription: Subscription | null = null;
  private stopped = true;
  private readonly waiters = new PositionWaiters();
  private applied: number | null = null;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly readModels: ReadModelStore,
    private readonly options: ProjectorOptions,
  ) {}

  /** Global position of the last event this projector applied. */
  get position(): number | null {
    return this.applied;
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
    this.applied = await this.readModels.checkpoint();
    this.waiters.reached(this.applied ?? 0);
    this.subscription = this.store.subscribe(
      { after: this.applied, batchSizeMax: this.options.batchSizeMax, streamPrefix: WALLET_STREAM_PREFIX },
      (events) => this.apply(events),
      (error) => this.restart(error),
    );
  }

  private async apply(events: readonly RecordedEvent[]): Promise<void> {
    await this.readModels.applyEvents(events);
    this.applied = events[events.length - 1].position;
    this.waiters.reached(this.applied);
  }

  private restart(error: unknown): void {
    this.options.log('error', 'projection batch failed; resubscribing from the checkpoint', error);
    this.subscription = null;
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.subscribe().catch((e: unknown) => this.restart(e));
    }, this.options.restartDelayMs);
  }
}
