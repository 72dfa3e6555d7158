import { AppendSignal, catchUpSubscription } from '../catch-up-subscription.js';
import {
  APPEND_BATCH_MAX,
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
import { checkExpectedRevision } from '../expected-revision.js';
import type { IndexedKey, KeyIndex } from '../key-index.port.js';
import { serialiseSnapshotState, type SnapshotStore, type StreamSnapshot } from '../snapshot-store.port.js';

/** Snapshots kept as JSON text, so a reader never shares objects with the writer. */
class InMemorySnapshotStore implements SnapshotStore {
  private readonly byStream = new Map<string, { revision: number; stateVersion: number; state: string }>();

  async readSnapshot(streamId: string): Promise<StreamSnapshot | null> {
    const stored = this.byStream.get(streamId);
    if (stored === undefined) return null;
    return { streamId, revision: stored.revision, stateVersion: stored.stateVersion, state: JSON.parse(stored.state) };
  }

  async writeSnapshot(snapshot: StreamSnapshot): Promise<void> {
    const state = serialiseSnapshotState(snapshot);
    this.byStream.set(snapshot.streamId, { revision: snapshot.revision, stateVersion: snapshot.stateVersion, state });
  }
}

class InMemoryKeyIndex implements KeyIndex {
  readonly indexedSinceMs = 0;
  private readonly byStream = new Map<string, Map<string, IndexedKey>>();

  async findKey(streamId: string, key: string): Promise<IndexedKey | null> {
    return this.byStream.get(streamId)?.get(key) ?? null;
  }

  async forgetKeysBefore(recordedBeforeMs: number, max: number): Promise<number> {
    let forgotten = 0;
    for (const keys of this.byStream.values()) {
      for (const [key, indexed] of keys) {
        if (forgotten >= max) return forgotten;
        if (Date.parse(indexed.recordedAt) < recordedBeforeMs) {
          keys.delete(key);
          forgotten += 1;
        }
      }
    }
    return forgotten;
  }

  /** Called with the append itself, so a key is findable exactly when its event is. */
  record(streamId: string, key: string, revision: number, recordedAt: string): void {
    let keys = this.byStream.get(streamId);
    if (keys === undefined) this.byStream.set(streamId, (keys = new Map()));
    keys.set(key, { streamId, key, revision, recordedAt });
  }
}

/** For unit tests: the same contract as the durable stores, nothing survives the process. */
export class InMemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly signal = new AppendSignal();
  readonly snapshots: SnapshotStore = new InMemorySnapshotStore();
  private readonly keyIndex = new InMemoryKeyIndex();
  readonly keys: KeyIndex = this.keyIndex;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  async append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    const stream = this.streams.get(streamId) ?? [];
    checkExpectedRevision(streamId, expected, stream.length === 0 ? 'no_stream' : stream.length - 1);
    if (events.length === 0 || events.length > APPEND_BATCH_MAX) throw new RangeError(`append takes 1..${APPEND_BATCH_MAX} events`);
    const recordedAt = this.clock().toISOString();
    for (const event of events) {
      const recorded: RecordedEvent = {
        streamId,
        revision: stream.length,
        position: this.log.length + 1,
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion,
        data: structuredClone(event.data),
        metadata: structuredClone(event.metadata),
        recordedAt,
      };
      stream.push(recorded);
      this.log.push(recorded);
      if (event.indexKey != null) this.keyIndex.record(streamId, event.indexKey, recorded.revision, recordedAt);
    }
    this.streams.set(streamId, stream);
    this.signal.notify();
    return { lastRevision: stream.length - 1, lastPosition: this.log.length };
  }

  async readStream(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const stream = this.streams.get(streamId) ?? [];
    return stream.slice(options.fromRevision, options.fromRevision + options.maxCount);
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    // Positions are 1-based indexes into the log.
    const start = options.after ?? 0;
    return this.log.slice(start, start + options.maxCount);
  }

  async headPosition(): Promise<number | null> {
    return this.log.length === 0 ? null : this.log.length;
  }

  subscribe(options: SubscribeOptions, onEvents: EventBatchHandler, onError: (error: unknown) => void): Subscription {
    const source = { readAll: (o: ReadAllOptions) => this.readAll(o), signal: this.signal, idlePollMs: 1000 };
    return catchUpSubscription(source, options, onEvents, onError);
  }

  async close(): Promise<void> {
    this.signal.notify();
  }
}
