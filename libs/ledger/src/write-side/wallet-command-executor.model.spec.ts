import fc from 'fast-check';
import {
  DEFAULT_CURRENCIES,
  DomainError,
  walletAfterEntry,
  walletStreamId,
  type DeciderConfig,
  type LedgerEntryData,
  type RecordLedgerEntry,
} from '#domain';
import { InMemoryEventStore, type EventStore, type StreamSnapshot } from '#event-store';
import { WalletCommandExecutor } from './wallet-command-executor.js';

const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};
const context = { correlationId: 'model', actor: 'key_model' };

type Op = { direction: 'credit' | 'debit'; amountMinor: number; key: string | null; writer: 0 | 1 };

const opArb: fc.Arbitrary<Op> = fc.record({
  direction: fc.constantFrom('credit' as const, 'debit' as const),
  amountMinor: fc.integer({ min: 1, max: 50 }),
  // A small key space makes concurrent reuse of one key likely.
  key: fc.option(fc.constantFrom('k1', 'k2', 'k3'), { nil: null }),
  // Two executors on one store stand for two API processes: their appends conflict and retry.
  writer: fc.constantFrom(0 as const, 1 as const),
});

/** The store's I/O resolves in an order fast-check chooses, so commands interleave in every way it can find. */
function scheduledStore(s: fc.Scheduler, counts: { snapshotsWritten: number; snapshotsRead: number; keysFound: number }): EventStore {
  const store = new InMemoryEventStore();
  return {
    keys: {
      indexedSinceMs: store.keys.indexedSinceMs,
      findKey: s.scheduleFunction(async (streamId: string, key: string) => {
        const found = await store.keys.findKey(streamId, key);
        if (found !== null) counts.keysFound += 1;
        return found;
      }),
      forgetKeysBefore: (before: number, max: number) => store.keys.forgetKeysBefore(before, max),
    },
    // Snapshot reads and writes interleave with everything else too.
    snapshots: {
      readSnapshot: s.scheduleFunction(async (streamId: string) => {
        const snapshot = await store.snapshots.readSnapshot(streamId);
        if (snapshot !== null) counts.snapshotsRead += 1;
        return snapshot;
      }),
      writeSnapshot: s.scheduleFunction(async (snapshot: StreamSnapshot) => {
        await store.snapshots.writeSnapshot(snapshot);
        counts.snapshotsWritten += 1;
      }),
    },
    append: s.scheduleFunction((...args: Parameters<EventStore['append']>) => store.append(...args)),
    readStream: s.scheduleFunction((...args: Parameters<EventStore['readStream']>) => store.readStream(...args)),
    readAll: (o) => store.readAll(o),
    subscribe: (o, h, e) => store.subscribe(o, h, e),
    close: () => store.close(),
  };
}

describe.each([
  ['without snapshots', undefined, undefined],
  // Every 2 events: reloads after conflicts start from snapshots, often stale ones.
  ['with a snapshot every 2 events', 2, undefined],
  // One key in memory: replays are mostly answered through the store's key index.
  ['with one key in memory, the others in the key index, and snapshots', 2, 1],
])('WalletCommandExecutor under interleavings, two writers on one store (model-based), %s', (_label, snapshotEveryEvents, keysCachedMax) => {
  const counts = { snapshotsWritten: 0, snapshotsRead: 0, keysFound: 0 };

  afterAll(() => {
    // Each variant must have exercised what it adds, or it proves nothing beyond the first.
    if (snapshotEveryEvents !== undefined) {
      expect(counts.snapshotsWritten).toBeGreaterThan(0);
      expect(counts.snapshotsRead).toBeGreaterThan(0);
    }
    if (keysCachedMax !== undefined) expect(counts.keysFound).toBeGreaterThan(0);
  });

  it('matches a plain sequential model whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (s, ops) => {
        const store = scheduledStore(s, counts);
        const options = {
          snapshotEveryEvents,
          keysCachedMax,
          retriesMax: 50,
          appendRetriesMax: 0,
          backoffBaseMs: 0,
          backoffMaxMs: 0,
          streamCacheMax: 10,
          readPageSize: 7,
          clock: () => new Date(),
        };
        const writers = [new WalletCommandExecutor(store, decider, options), new WalletCommandExecutor(store, decider, options)];
        const created = writers[0].execute(
          'cus_m',
          (now) => ({
            type: 'CreateCustomer',
            customerId: 'cus_m',
            businessId: 'biz',
            email: 'm@x.co',
            name: 'M',
            phoneNumber: null,
            metadata: {},
            now,
          }),
          () => undefined,
          context,
        );
        await s.waitFor(created);

        const results = ops.map((op, i) =>
          writers[op.writer]
            .execute(
              'cus_m',
              (now): RecordLedgerEntry => ({
                type: 'RecordLedgerEntry',
                customerId: 'cus_m',
                businessId: 'biz',
                entryId: `e${i}`,
                direction: op.direction,
                currency: 'USD',
                amountMinor: op.amountMinor,
                reason: null,
                idempotencyKey: op.key,
                now,
              }),
              (state, command) => walletAfterEntry(command as RecordLedgerEntry, state, decider).balanceMinor,
              context,
            )
            .then(
              (r) => ({ ok: true as const, balance: r.result }),
              (e: unknown) => ({ ok: false as const, error: e }),
            ),
        );
        const outcomes = await s.waitFor(Promise.all(results));

        // The committed history is the truth; replay it through the plain model.
        const events = await new InMemoryEventStoreReader(store).entries();
        let balance = 0;
        const keys = new Map<string, number>();
        for (const { type, data } of events) {
          balance += type === 'WalletCredited' ? data.amountMinor : -data.amountMinor;
          expect(balance).toBeGreaterThanOrEqual(0);
          expect(data.balanceAfterMinor).toBe(balance);
          if (data.idempotencyKey !== null) keys.set(data.idempotencyKey, (keys.get(data.idempotencyKey) ?? 0) + 1);
        }
        for (const count of keys.values()) expect(count).toBe(1);
        // Every success is backed by a committed entry (a replay shares its original's), and nothing else is.
        const successes = outcomes.filter((o) => o.ok);
        const keyed = new Set(ops.filter((op, i) => op.key !== null && outcomes[i].ok).map((op) => op.key));
        const unkeyedSuccesses = ops.filter((op, i) => op.key === null && outcomes[i].ok).length;
        expect(events).toHaveLength(unkeyedSuccesses + keyed.size);
        expect(successes.length).toBeGreaterThanOrEqual(events.length);
        // Refusals are only the domain's own answers: never a spurious infrastructure failure.
        for (const o of outcomes) if (!o.ok) expect(o.error).toBeInstanceOf(DomainError);
      }),
      { numRuns: 150 },
    );
  });
});

/** Reads the committed entry events back in stream order. */
class InMemoryEventStoreReader {
  constructor(private readonly store: EventStore) {}

  async entries(): Promise<Array<{ type: string; data: LedgerEntryData }>> {
    const all = await this.store.readAll({ after: null, maxCount: 10_000 });
    return all
      .filter((e) => e.streamId === walletStreamId('cus_m') && (e.type === 'WalletCredited' || e.type === 'WalletDebited'))
      .map((e) => ({ type: e.type, data: e.data as LedgerEntryData }));
  }
}
