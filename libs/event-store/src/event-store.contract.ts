import { randomUUID } from 'node:crypto';
import { CheckpointNotInLogError, checkLogIdentity, logIdentityOf } from './log-identity.js';
import { APPEND_BATCH_MAX, WrongExpectedRevisionError, type EventStore, type NewEvent, type RecordedEvent } from './event-store.port.js';
import { SNAPSHOT_STATE_BYTES_MAX, readTrustedSnapshot, type SnapshotStore } from './snapshot-store.port.js';

export interface EventStoreHarness {
  readonly store: EventStore;
  dispose(): Promise<void>;
}

function newEvent(type: string, data: Record<string, unknown> = {}, indexKey: string | null = null): NewEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, data, metadata: { correlationId: 'c-1', actor: 'key:abc' }, indexKey };
}

/** Every adapter runs this same suite; a store that passes it can sit behind the ledger. */
export interface ContractOptions {
  /**
   * Whether the store keeps a key index (`EventStore.keys`). EventStoreDB does not: a writer on it
   * keeps every live key in memory (see `key-index.port.ts`), so the key cases do not apply.
   */
  readonly keyIndex: boolean;
}

export function eventStoreContract(name: string, open: () => Promise<EventStoreHarness>, options: ContractOptions = { keyIndex: true }): void {
  describe(`EventStore contract: ${name}`, () => {
    let harness: EventStoreHarness;
    let store: EventStore;
    // Unique stream ids keep the suite valid against a shared, non-empty server.
    const stream = (label: string) => `contract-${label}-${randomUUID()}`;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });
    afterEach(async () => harness.dispose());

    it('appends to a new stream with no_stream and reads events back in order with their data', async () => {
      const id = stream('new');
      const result = await store.append(id, 'no_stream', [newEvent('A', { n: 1 }), newEvent('B', { n: 2 })]);
      expect(result.lastRevision).toBe(1);
      const events = await store.readStream(id, { fromRevision: 0, maxCount: 10 });
      expect(events.map((e) => [e.type, e.revision, e.data])).toEqual([
        ['A', 0, { n: 1 }],
        ['B', 1, { n: 2 }],
      ]);
      expect(events[0].metadata).toMatchObject({ correlationId: 'c-1', actor: 'key:abc' });
      expect(events[1].position).toBe(result.lastPosition);
      expect(Number.isNaN(Date.parse(events[0].recordedAt))).toBe(false);
    });

    it('rejects no_stream on an existing stream and writes nothing', async () => {
      const id = stream('exists');
      await store.append(id, 'no_stream', [newEvent('A')]);
      await expect(store.append(id, 'no_stream', [newEvent('B')])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect(await store.readStream(id, { fromRevision: 0, maxCount: 10 })).toHaveLength(1);
    });

    it('accepts the correct expected revision and rejects a stale one', async () => {
      const id = stream('revision');
      await store.append(id, 'no_stream', [newEvent('A')]);
      const second = await store.append(id, 0, [newEvent('B')]);
      expect(second.lastRevision).toBe(1);
      await expect(store.append(id, 0, [newEvent('C')])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(store.append(id, 5, [newEvent('C')])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(store.append(stream('missing'), 0, [newEvent('C')])).rejects.toBeInstanceOf(
        WrongExpectedRevisionError,
      );
      const types = (await store.readStream(id, { fromRevision: 0, maxCount: 10 })).map((e) => e.type);
      expect(types).toEqual(['A', 'B']);
    });

    it('lets exactly one of many concurrent appends at the same revision win', async () => {
      const id = stream('race');
      await store.append(id, 'no_stream', [newEvent('A')]);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.append(id, 0, [newEvent('B')])));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(9);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect(await store.readStream(id, { fromRevision: 0, maxCount: 10 })).toHaveLength(2);
    });

    it('chains appends to one stream made in the same tick', async () => {
      const id = stream('chain');
      const first = store.append(id, 'no_stream', [newEvent('A')]);
      const second = store.append(id, 0, [newEvent('B')]);
      await expect(Promise.all([first, second])).resolves.toHaveLength(2);
      expect((await store.readStream(id, { fromRevision: 0, maxCount: 10 })).map((e) => e.revision)).toEqual([0, 1]);
    });

    it('reads a stream from a revision with a bounded count; unknown streams read as empty', async () => {
      const id = stream('page');
      await store.append(id, 'no_stream', Array.from({ length: 5 }, (_, i) => newEvent('E', { i })));
      const page = await store.readStream(id, { fromRevision: 2, maxCount: 2 });
      expect(page.map((e) => e.data)).toEqual([{ i: 2 }, { i: 3 }]);
      expect(await store.readStream(stream('none'), { fromRevision: 0, maxCount: 10 })).toEqual([]);
    });

    it('gives every event a strictly increasing global position in readAll order', async () => {
      const a = stream('all-a');
      const b = stream('all-b');
      const ra = await store.append(a, 'no_stream', [newEvent('A1'), newEvent('A2')]);
      const rb = await store.append(b, 'no_stream', [newEvent('B1')]);
      expect(rb.lastPosition).toBeGreaterThan(ra.lastPosition);
      const all = await readAllFrom(store, null);
      const ours = all.filter((e) => e.streamId === a || e.streamId === b);
      expect(ours.map((e) => e.type)).toEqual(['A1', 'A2', 'B1']);
      for (let i = 1; i < all.length; i += 1) expect(all[i].position).toBeGreaterThan(all[i - 1].position);
      const after = await store.readAll({ after: ra.lastPosition, maxCount: 1000 });
      expect(after.some((e) => e.streamId === a)).toBe(false);
      expect(after.some((e) => e.streamId === b)).toBe(true);
    });

    it('subscribes from a position, catches up, then delivers live appends in order', async () => {
      const prefix = `contract-sub-${randomUUID()}-`;
      const before = await store.append(`${prefix}1`, 'no_stream', [newEvent('Old')]);
      await store.append(`${prefix}2`, 'no_stream', [newEvent('Caught')]);
      await store.append(stream('other'), 'no_stream', [newEvent('Filtered')]);
      const seen: RecordedEvent[] = [];
      const errors: unknown[] = [];
      const sub = store.subscribe(
        { after: before.lastPosition, batchSizeMax: 50, streamPrefix: prefix },
        async (events) => void seen.push(...events),
        (error) => errors.push(error),
      );
      await store.append(`${prefix}1`, 0, [newEvent('Live')]);
      await waitUntil(() => seen.length >= 2);
      await sub.close();
      expect(seen.map((e) => e.type)).toEqual(['Caught', 'Live']);
      expect(errors).toEqual([]);
    });

    it('writes an identical retry only once: same events, and the same revision and position where it succeeds', async () => {
      const id = stream('retry');
      const events = [newEvent('A', { n: 1 }), newEvent('B', { n: 2 })];
      const first = await store.append(id, 'no_stream', events);
      // The same command sent again (a lost reply): same ids, same expected revision.
      const again = await store.append(id, 'no_stream', events).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      if ('result' in again) {
        // Idempotent stores (EventStoreDB deduplicates by event id) report the original write.
        expect(again.result).toEqual(first);
      } else {
        // The others refuse it; the write side confirms such refusals against the stream head.
        expect(again.error).toBeInstanceOf(WrongExpectedRevisionError);
      }
      const stored = await store.readStream(id, { fromRevision: 0, maxCount: 10 });
      expect(stored.map((e) => [e.eventId, e.revision])).toEqual(events.map((e, i) => [e.eventId, i]));
      expect(stored[1].position).toBe(first.lastPosition);
    });

    it('resumes a subscription from the middle event of a multi-event append', async () => {
      const prefix = `contract-mid-${randomUUID()}-`;
      await store.append(`${prefix}1`, 'no_stream', [newEvent('M0'), newEvent('M1'), newEvent('M2')]);
      const written = await store.readStream(`${prefix}1`, { fromRevision: 0, maxCount: 10 });
      expect(new Set(written.map((e) => e.position)).size).toBe(3);
      const seen: RecordedEvent[] = [];
      const errors: unknown[] = [];
      const sub = store.subscribe(
        { after: written[1].position, batchSizeMax: 10, streamPrefix: prefix },
        async (events) => void seen.push(...events),
        (error) => errors.push(error),
      );
      await store.append(`${prefix}1`, 2, [newEvent('Live')]);
      await waitUntil(() => seen.length >= 2);
      await sub.close();
      expect(seen.map((e) => e.type)).toEqual(['M2', 'Live']);
      expect(errors).toEqual([]);
    });

    it('catches up 2,000 events in full batches of batchSizeMax', async () => {
      const prefix = `contract-bulk-${randomUUID()}-`;
      const total = 2_000;
      const batchSizeMax = 500;
      const before = (await store.append(stream('before-bulk'), 'no_stream', [newEvent('Before')])).lastPosition;
      for (let i = 0; i < total / APPEND_BATCH_MAX; i += 1) {
        await store.append(`${prefix}${i}`, 'no_stream', Array.from({ length: APPEND_BATCH_MAX }, (_, n) => newEvent('Bulk', { n })));
      }
      const sizes: number[] = [];
      const seen: RecordedEvent[] = [];
      const sub = store.subscribe(
        { after: before, batchSizeMax, streamPrefix: prefix },
        async (events) => {
          sizes.push(events.length);
          seen.push(...events);
        },
        () => undefined,
      );
      await waitUntil(() => seen.length >= total, 30_000);
      await sub.close();
      expect(seen).toHaveLength(total);
      for (let i = 1; i < seen.length; i += 1) expect(seen[i].position).toBeGreaterThan(seen[i - 1].position);
      // Full batches: a store that hands over a few dozen at a time fails here (one short batch allowed at each end).
      expect(Math.max(...sizes)).toBe(batchSizeMax);
      expect(sizes.length).toBeLessThanOrEqual(total / batchSizeMax + 2);
    });

    it('knows its head and identity, so a checkpoint beyond the head or from another log is refused', async () => {
      const last = await store.append(stream('head'), 'no_stream', [newEvent('H1'), newEvent('H2')]);
      if (store.headPosition !== undefined) expect(await store.headPosition()).toBeGreaterThanOrEqual(last.lastPosition);
      const identity = await logIdentityOf(store);
      expect(identity).not.toBeNull();
      expect(await logIdentityOf(store)).toBe(identity);
      let recorded: string | null = null;
      const readModels = { logIdentity: async () => recorded, recordLogIdentity: async (id: string) => void (recorded ??= id) };
      await checkLogIdentity(store, readModels, last.lastPosition);
      expect(recorded).toBe(identity);
      if (store.headPosition !== undefined) {
        const head = (await store.headPosition())!;
        await expect(checkLogIdentity(store, readModels, head + 1_000_000)).rejects.toThrow(CheckpointNotInLogError);
      }
      recorded = 'another-log-first-event@1';
      await expect(checkLogIdentity(store, readModels, last.lastPosition)).rejects.toThrow(/built from the log starting with another-log/);
    });

    (options.keyIndex ? describe : describe.skip)('key index', () => {
      it('finds the event a key was written with, per stream; an unknown key is not found', async () => {
        const id = stream('keys');
        const other = stream('keys-other');
        await store.append(id, 'no_stream', [newEvent('A'), newEvent('B', {}, 'k-1'), newEvent('C', {}, 'k-2')]);
        const found = await store.keys!.findKey(id, 'k-1');
        expect(found).toMatchObject({ streamId: id, key: 'k-1', revision: 1 });
        expect(Number.isNaN(Date.parse(found!.recordedAt))).toBe(false);
        expect((await store.keys!.findKey(id, 'k-2'))?.revision).toBe(2);
        expect(await store.keys!.findKey(id, 'k-3')).toBeNull();
        expect(await store.keys!.findKey(other, 'k-1')).toBeNull();
      });

      it('points a key used again to its newest event', async () => {
        const id = stream('keys-reuse');
        await store.append(id, 'no_stream', [newEvent('A', {}, 'k')]);
        await store.append(id, 0, [newEvent('B'), newEvent('C', {}, 'k')]);
        expect((await store.keys!.findKey(id, 'k'))?.revision).toBe(2);
      });

      it('writes a key only with its event: a refused append leaves none', async () => {
        const id = stream('keys-refused');
        await store.append(id, 'no_stream', [newEvent('A')]);
        await expect(store.append(id, 5, [newEvent('B', {}, 'lost')])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        expect(await store.keys!.findKey(id, 'lost')).toBeNull();
      });

      it('of concurrent appends of one key at one revision, indexes only the winner', async () => {
        const id = stream('keys-race');
        await store.append(id, 'no_stream', [newEvent('A')]);
        const appends = Array.from({ length: 10 }, (_, i) => store.append(id, 0, [newEvent('B', { writer: i }, 'same')]));
        const results = await Promise.allSettled(appends);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const found = await store.keys!.findKey(id, 'same');
        expect(found?.revision).toBe(1);
        const events = await store.readStream(id, { fromRevision: 0, maxCount: 10 });
        expect(events).toHaveLength(2);
      });

      it('forgets keys recorded before a time, at most `max` per call, and keeps the younger ones', async () => {
        const id = stream('keys-forget');
        await store.append(id, 'no_stream', [newEvent('A', {}, 'old-1'), newEvent('B', {}, 'old-2'), newEvent('C', {}, 'old-3')]);
        const recordedMs = Date.parse((await store.keys!.findKey(id, 'old-1'))!.recordedAt);
        expect(await store.keys!.forgetKeysBefore(recordedMs, 1_000)).toBe(0);
        // Bounded: a store shared with other suites may hold older keys, so only the bound is exact.
        expect(await store.keys!.forgetKeysBefore(recordedMs + 1, 1)).toBe(1);
        while ((await store.keys!.forgetKeysBefore(recordedMs + 1, 1_000)) > 0);
        expect(await store.keys!.findKey(id, 'old-1')).toBeNull();
        expect(await store.keys!.findKey(id, 'old-3')).toBeNull();
      });
    });

    describe('snapshots', () => {
      const VERSION = 3;
      let snapshots: SnapshotStore;

      beforeEach(() => {
        // Every adapter keeps snapshots: the write side's cold loads depend on them.
        expect(store.snapshots).toBeDefined();
        snapshots = store.snapshots!;
      });

      async function streamOf(label: string, events: number): Promise<{ id: string; positions: number[] }> {
        const id = stream(label);
        await store.append(
          id,
          'no_stream',
          Array.from({ length: events }, (_, i) => newEvent('E', { i })),
        );
        const stored = await store.readStream(id, { fromRevision: 0, maxCount: events });
        return { id, positions: stored.map((e) => e.position) };
      }

      it('reads null for a stream without one; a write replaces the previous one, per stream', async () => {
        const a = await streamOf('snap-a', 5);
        const b = await streamOf('snap-b', 2);
        expect(await snapshots.readSnapshot(a.id)).toBeNull();
        await snapshots.writeSnapshot({ streamId: a.id, revision: 1, stateVersion: VERSION, state: { n: 1, list: ['x'] } });
        await snapshots.writeSnapshot({ streamId: a.id, revision: 3, stateVersion: VERSION, state: { n: 3, list: ['y', 'z'] } });
        await snapshots.writeSnapshot({ streamId: b.id, revision: 0, stateVersion: VERSION, state: { n: 0 } });
        expect(await snapshots.readSnapshot(a.id)).toEqual({
          streamId: a.id,
          revision: 3,
          stateVersion: VERSION,
          state: { n: 3, list: ['y', 'z'] },
        });
        expect(await snapshots.readSnapshot(b.id)).toEqual({
          streamId: b.id,
          revision: 0,
          stateVersion: VERSION,
          state: { n: 0 },
        });
      });

      it('trusts a stale snapshot (behind the stream) and the stream holds the events to catch up from it', async () => {
        const { id, positions } = await streamOf('snap-stale', 6);
        await snapshots.writeSnapshot({ streamId: id, revision: 2, stateVersion: VERSION, state: { upTo: 2 } });
        const trusted = await readTrustedSnapshot(store, id, VERSION);
        expect(trusted?.snapshot).toEqual({ streamId: id, revision: 2, stateVersion: VERSION, state: { upTo: 2 } });
        // The position of its last event: what a reader must wait for when nothing follows.
        expect(trusted?.position).toBe(positions[2]);
        const rest = await store.readStream(id, { fromRevision: trusted!.snapshot.revision + 1, maxCount: 100 });
        expect(rest.map((e) => e.data)).toEqual([{ i: 3 }, { i: 4 }, { i: 5 }]);
      });

      it('trusts a snapshot at the head of the stream', async () => {
        const { id, positions } = await streamOf('snap-head', 3);
        await snapshots.writeSnapshot({ streamId: id, revision: 2, stateVersion: VERSION, state: { upTo: 2 } });
        expect((await readTrustedSnapshot(store, id, VERSION))?.position).toBe(positions[2]);
      });

      it('ignores a snapshot written by another version of the fold', async () => {
        const { id } = await streamOf('snap-old', 4);
        await snapshots.writeSnapshot({ streamId: id, revision: 2, stateVersion: VERSION - 1, state: { upTo: 2 } });
        expect(await readTrustedSnapshot(store, id, VERSION)).toBeNull();
      });

      it('ignores a snapshot that claims a revision beyond the stream, or of a stream with no events', async () => {
        const { id } = await streamOf('snap-beyond', 3);
        await snapshots.writeSnapshot({ streamId: id, revision: 3, stateVersion: VERSION, state: { upTo: 3 } });
        expect(await readTrustedSnapshot(store, id, VERSION)).toBeNull();
        const empty = stream('snap-empty');
        await snapshots.writeSnapshot({ streamId: empty, revision: 0, stateVersion: VERSION, state: {} });
        expect(await readTrustedSnapshot(store, empty, VERSION)).toBeNull();
      });

      it('refuses a state larger than SNAPSHOT_STATE_BYTES_MAX and keeps the previous snapshot', async () => {
        const { id } = await streamOf('snap-big', 2);
        await snapshots.writeSnapshot({ streamId: id, revision: 0, stateVersion: VERSION, state: { small: true } });
        const big = { filler: 'x'.repeat(SNAPSHOT_STATE_BYTES_MAX) };
        await expect(
          snapshots.writeSnapshot({ streamId: id, revision: 1, stateVersion: VERSION, state: big }),
        ).rejects.toBeInstanceOf(RangeError);
        expect((await snapshots.readSnapshot(id))?.state).toEqual({ small: true });
      });
    });
  });
}

async function readAllFrom(store: EventStore, after: number | null): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let cursor = after;
  for (;;) {
    const batch = await store.readAll({ after: cursor, maxCount: 500 });
    if (batch.length === 0) return out;
    out.push(...batch);
    cursor = batch[batch.length - 1].position;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
