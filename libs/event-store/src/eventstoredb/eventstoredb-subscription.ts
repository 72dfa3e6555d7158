import { excludeSystemEvents, streamNameFilter, type AllStreamResolvedEvent, type KurrentDBClient } from '@kurrent/kurrentdb-client';
import type { EventBatchHandler, RecordedEvent, SubscribeOptions, Subscription } from '../event-store.port.js';
import { fromEsdbEvent, isPermanentRefusal, toReadPosition } from './eventstoredb-mappers.js';

/*
 * `subscribe` on EventStoreDB: `subscribeToAll` with a stream-prefix filter (or, without a
 * prefix, a filter that drops system events server-side), consumed through the client's
 * async iterator, so nothing is read while a batch is being handled (backpressure reaches
 * the gRPC stream; unlike reads, subscriptions in client 1.3.1 still run on @grpc/grpc-js,
 * through the same `Subscription` Transform as 6.2.1). Filter checkpoints never appear as items (the client hands them only
 * to a `checkpointReached` callback, which we do not pass); items without an event are
 * skipped.
 *
 * Drops resubscribe from the last position handed to the handler, with capped, jittered
 * exponential backoff. The attempt counter is reset only by a batch delivered to the
 * handler: the server confirms a subscription before it starts catching up, so an error
 * during catch-up (say, `InvalidPosition` from a checkpoint of another log) would otherwise
 * reset it on every attempt and resubscribe forever, silently. Refusals that no retry can
 * cure (`isPermanentRefusal`) end the subscription at once, through `onError`. Every
 * resubscription is logged and counted (`SubscriptionHealth`).
 */

export type EsdbSubscribeClient = Pick<KurrentDBClient, 'subscribeToAll'>;

export interface ResubscribeSettings {
  /** Consecutive drops without a delivered batch before `onError` is called. */
  readonly maxResubscribeAttempts: number;
  readonly resubscribeBaseDelayMs: number;
  readonly resubscribeMaxDelayMs: number;
  /** Random source for backoff jitter, in [0, 1). */
  readonly random: () => number;
  readonly log: (level: 'warn' | 'error', message: string, error?: unknown) => void;
}

/** What an operator needs to tell a live subscription from a stalled one. */
export interface SubscriptionHealth {
  /** Resubscriptions since this store was opened, across all its subscriptions. */
  resubscribes: number;
  /** When a batch was last handed to a handler (ms since the epoch), or null. */
  lastDeliveryAtMs: number | null;
  /** When the server last said anything on a subscription: an event, a confirmation, caught-up. */
  lastHeartbeatAtMs: number | null;
  /** The last drop's message, or null. */
  lastDropMessage: string | null;
}

const CLOSED = Symbol('closed');

export function subscribeToAllWithResubscribe(
  client: EsdbSubscribeClient,
  options: SubscribeOptions,
  onEvents: EventBatchHandler,
  onError: (error: unknown) => void,
  settings: ResubscribeSettings,
  health: SubscriptionHealth,
): Subscription & { readonly done: Promise<void> } {
  if (!Number.isSafeInteger(options.batchSizeMax) || options.batchSizeMax < 1) {
    throw new RangeError(`batchSizeMax must be a positive integer, got ${options.batchSizeMax}`);
  }
  let closed = false;
  let wake: () => void = () => undefined;
  const closedSignal = new Promise<typeof CLOSED>((resolve) => (wake = () => resolve(CLOSED)));
  let current: ReturnType<EsdbSubscribeClient['subscribeToAll']> | null = null;

  const loop = async () => {
    let cursor = options.after;
    let failures = 0;
    while (!closed) {
      const subscription = client.subscribeToAll(
        {
          fromPosition: toReadPosition(cursor),
          filter: options.streamPrefix !== '' ? streamNameFilter({ prefixes: [options.streamPrefix] }) : excludeSystemEvents(),
        },
        // The client's Subscription is an object-mode Transform with Node's default buffer
        // (16 items each side): without this, batches never grow past about 31 events.
        { highWaterMark: options.batchSizeMax },
      );
      current = subscription;
      const beat = () => (health.lastHeartbeatAtMs = Date.now());
      subscription.on('confirmation', beat).on('caughtUp', beat).on('fellBehind', beat);
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
          beat();
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
          // Progress, not a confirmation, proves the subscription works.
          failures = 0;
          health.lastDeliveryAtMs = Date.now();
        }
      } finally {
        current = null;
        await subscription.unsubscribe().catch(() => undefined);
        // Settles a read still pending on this subscription; never awaited, so close cannot hang on it.
        subscription.destroy();
      }
      health.lastDropMessage = dropped instanceof Error ? dropped.message : String(dropped);
      if (isPermanentRefusal(dropped)) {
        settings.log('error', `EventStoreDB refused the $all subscription from ${String(cursor)}; not resubscribing`, dropped);
        throw dropped;
      }
      failures += 1;
      if (failures > settings.maxResubscribeAttempts) {
        settings.log('error', `EventStoreDB $all subscription dropped ${failures} times in a row without progress; giving up`, dropped);
        throw dropped;
      }
      const delayMs = backoffMs(settings, failures);
      health.resubscribes += 1;
      settings.log(
        'warn',
        `EventStoreDB $all subscription dropped (attempt ${failures} of ${settings.maxResubscribeAttempts}); ` +
          `resubscribing after ${String(cursor)} in ${Math.round(delayMs)} ms`,
        dropped,
      );
      if ((await sleepUnlessClosed(delayMs, closedSignal)) === CLOSED) return;
    }
  };

  const running = loop().catch((error: unknown) => {
    if (closed) return;
    closed = true;
    onError(error);
  });

  return {
    done: running,
    close: async () => {
      closed = true;
      wake();
      const active = current;
      if (active !== null) await active.unsubscribe().catch(() => undefined);
      await running;
    },
  };
}

/** Exponential, capped, with "equal jitter": half fixed, half random. */
function backoffMs(settings: ResubscribeSettings, attempt: number): number {
  const capped = Math.min(settings.resubscribeMaxDelayMs, settings.resubscribeBaseDelayMs * 2 ** (attempt - 1));
  return capped / 2 + (capped / 2) * settings.random();
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
