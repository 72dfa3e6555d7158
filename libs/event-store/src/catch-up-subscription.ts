import type { EventBatchHandler, ReadAllOptions, RecordedEvent, SubscribeOptions, Subscription } from './event-store.port.js';

/** Wakes waiting subscriptions when an append commits in this process. */
export class AppendSignal {
  private waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next `notify`, or after `timeoutMs` (another process may have appended). */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      this.waiters.push(done);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

export interface CatchUpSource {
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  readonly signal: AppendSignal;
  /** How long to sleep when caught up before polling again for appends from other processes. */
  readonly idlePollMs: number;
}

/**
 * A subscription built on `readAll`: read a batch after the last position, hand it
 * over, repeat; when caught up, wait for a local append or a poll tick. Used by the
 * adapters that have no push subscription of their own.
 */
export function catchUpSubscription(
  source: CatchUpSource,
  options: SubscribeOptions,
  onEvents: EventBatchHandler,
  onError: (error: unknown) => void,
): Subscription {
  let closed = false;
  let wakeClosed: () => void = () => undefined;
  const closedSignal = new Promise<void>((resolve) => (wakeClosed = resolve));

  const loop = async () => {
    let after = options.after;
    while (!closed) {
      const events = await source.readAll({ after, maxCount: options.batchSizeMax });
      if (events.length === 0) {
        await Promise.race([source.signal.wait(source.idlePollMs), closedSignal]);
        continue;
      }
      after = events[events.length - 1].position;
      const matching = events.filter((event) => event.streamId.startsWith(options.streamPrefix));
      if (matching.length > 0 && !closed) await onEvents(matching);
    }
  };
  const running = loop().catch((error: unknown) => {
    closed = true;
    onError(error);
  });

  return {
    async close() {
      closed = true;
      wakeClosed();
      await running;
    },
  };
}
