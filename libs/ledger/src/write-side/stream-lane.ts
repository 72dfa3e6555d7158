import type { WalletState } from '#domain';
import type { AppendResult, NewEvent } from '#event-store';

/** Events of several commands that go to the store in one append. */
export interface AppendBatch {
  readonly events: NewEvent[];
  readonly done: Promise<AppendResult>;
  /** The lane's state right after this batch's last event; what a snapshot taken after it holds. */
  stateAfter: WalletState | null;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export function newBatch(): AppendBatch {
  let resolve!: (result: AppendResult) => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<AppendResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (all its commands gave up) must not crash the process.
  done.catch(() => undefined);
  return { events: [], done, stateAfter: null, resolve, reject };
}

/**
 * One customer's stream as this process sees it. Decisions run synchronously
 * against `state`, the committed state plus everything decided but not yet stored;
 * at most one append is in flight, and what is decided meanwhile waits in `pending`
 * and goes out as the next single append. So a hot customer gets many entries per
 * commit, and an append is never sent before the one it builds on has succeeded.
 */
export class StreamLane {
  /** `null` until loaded, and again after any failed append (the decided state is then unreliable). */
  state: WalletState | null = null;
  /** Events the store holds for this stream, as far as this process knows. */
  committedVersion = 0;
  /** Global position of the stream's last stored event; what a replay's reader must wait for. */
  lastPosition: number | null = null;
  inFlight: AppendBatch | null = null;
  /** Batches waiting behind the in-flight one, oldest first; each fits in one append. */
  pending: AppendBatch[] = [];
  loading: Promise<void> | null = null;
  /** Version (events folded) of the newest snapshot this process loaded or tried to write; 0 when none. */
  snapshotVersion = 0;
  /** At most one snapshot write per stream at a time. */
  snapshotting = false;
  /** Highest stream version of an idempotency record dropped from memory (it is then only in the store's key index). */
  keysEvictedUpToVersion = 0;

  constructor(readonly streamId: string) {}

  get idle(): boolean {
    return this.inFlight === null && this.pending.length === 0 && this.loading === null;
  }

  /** The batch a command's events join: the newest one while it has room, else a new one. */
  batchFor(eventCount: number, eventsMax: number): AppendBatch {
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && last.events.length + eventCount <= eventsMax) return last;
    const batch = newBatch();
    this.pending.push(batch);
    return batch;
  }

  /** Settles when everything decided so far is stored: true, or false if any of it failed. */
  settled(): Promise<boolean> {
    const last = this.pending[this.pending.length - 1] ?? this.inFlight;
    if (last === null) return Promise.resolve(true);
    return last.done.then(
      () => true,
      () => false,
    );
  }
}
