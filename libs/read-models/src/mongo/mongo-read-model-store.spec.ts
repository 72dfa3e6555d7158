import { randomUUID } from 'node:crypto';
import { Collection } from 'mongodb';
import {
  DEFAULT_CURRENCIES,
  decide,
  encodeWalletEvent,
  evolve,
  initialWalletState,
  walletStreamId,
  type DeciderConfig,
  type WalletCommand,
  type WalletState,
} from '#domain';
import type { RecordedEvent } from '#event-store';
import { readModelContract } from '../read-model.contract.js';
import { CheckpointWentBackwardsError, MongoReadModelStore } from './mongo-read-model-store.js';

const url = process.env.MONGODB_URL;
// These tests need a MongoDB-compatible server; `eval "$(scripts/ferretdb.sh start)"` provides one.
// Without MONGODB_URL they are reported as skipped rather than passing vacuously.
const describeMongo = url !== undefined && url !== '' ? describe : describe.skip;

const openStore = () =>
  MongoReadModelStore.connect({ url: url!, dbName: `rm_test_${randomUUID().replaceAll('-', '').slice(0, 12)}` });

async function dropAndClose(store: MongoReadModelStore): Promise<void> {
  await store.db.dropDatabase();
  await store.close();
}

describeMongo('MongoReadModelStore (MONGODB_URL)', () => {
  readModelContract('mongo', async () => {
    const store = await openStore();
    return { store, dispose: () => dropAndClose(store) };
  });

  describe('crash between writes, without transactions', () => {
    let stores: MongoReadModelStore[] = [];
    const open = async () => {
      const store = await openStore();
      stores.push(store);
      return store;
    };
    afterEach(async () => {
      const opened = stores;
      stores = [];
      await Promise.all(opened.map(dropAndClose));
    });

    // Dies after each possible number of write operations in turn (mid-bulkWrite too),
    // then lets a fresh attempt re-apply the batch from the checkpoint and carry on.
    it('converges to the same read models whichever write a crash interrupts', async () => {
      const { batches, customers, businessId } = scenario();
      const reference = await open();
      await reference.applyEvents(batches[0]);
      const writesInBatch = await countingWrites(() => reference.applyEvents(batches[1]), Number.POSITIVE_INFINITY);
      await reference.applyEvents(batches[2]);
      const expected = await observe(reference, customers, businessId);
      expect(writesInBatch).toBeGreaterThan(10);

      for (let allowed = 0; allowed < writesInBatch; allowed += 1) {
        const store = await open();
        await store.applyEvents(batches[0]);
        await expect(countingWrites(() => store.applyEvents(batches[1]), allowed)).rejects.toThrow(SIMULATED_CRASH);
        await store.applyEvents(batches[1]);
        await store.applyEvents(batches[2]);
        expect({ allowed, state: await observe(store, customers, businessId) }).toEqual({ allowed, state: expected });
      }
    });

    // Two projectors overlapping on a lease handover: the stale one loaded its state, stalled,
    // and writes only after the new holder has gone further. Row guards must keep the newer state.
    it('lets a stale projector that writes late change nothing newer', async () => {
      const { batches, customers, businessId } = scenario();
      const reference = await open();
      for (const batch of batches) await reference.applyEvents(batch);

      const stale = await open();
      const current = await MongoReadModelStore.connect({ url: url!, dbName: stale.db.databaseName });
      stores.push(current);
      await stale.applyEvents(batches[0]);
      await stallFirstBulkWrite(
        () => stale.applyEvents(batches[1]),
        async () => {
          await current.applyEvents(batches[1]);
          await current.applyEvents(batches[2]);
        },
      );
      expect(await observe(stale, customers, businessId)).toEqual(await observe(reference, customers, businessId));
    });

    // The stale projector is held between its two state reads (customers and business
    // counters) while the other one applies the same batch and the next. Reading the
    // customers first, then counters that already count them, numbered the same customers
    // again above the counter: 4 customers, counter 6, page 0 empty.
    it('keeps customer counters right when a stale projector stalls between its reads', async () => {
      const { batches, customers, businessId } = scenario();
      const reference = await open();
      for (const batch of batches) await reference.applyEvents(batch);

      const stale = await open();
      const current = await MongoReadModelStore.connect({ url: url!, dbName: stale.db.databaseName });
      stores.push(current);
      await stale.applyEvents(batches[0]);
      await stallSecondStateRead(
        () => stale.applyEvents(batches[1]),
        async () => {
          await current.applyEvents(batches[1]);
          await current.applyEvents(batches[2]);
        },
      );
      const counter = await stale.db.collection(`${stale.projectionName}_businesses`).findOne({ _id: businessId as never });
      expect(counter?.customerCount).toBe(customers.length);
      expect(await observe(stale, customers, businessId)).toEqual(await observe(reference, customers, businessId));
    });

    it('refuses to apply on a checkpoint that went backwards (writes lost in a failover)', async () => {
      const { batches } = scenario();
      const store = await open();
      await store.applyEvents(batches[0]);
      await store.applyEvents(batches[1]);
      const at = await store.checkpoint();
      // What a rollback looks like from here: the stored checkpoint is behind one we wrote.
      await store.db.collection('projection_checkpoints').updateOne({ _id: store.projectionName as never }, { $set: { position: 1 } });
      await expect(store.applyEvents(batches[2])).rejects.toThrow(CheckpointWentBackwardsError);
      await expect(store.applyEvents(batches[2])).rejects.toThrow(`went back from ${at} to 1`);
    });

    it('reopens an existing database, indexes and all, where it left off', async () => {
      const f = new EventFactory();
      const c = `cus_${randomUUID().slice(0, 8)}`;
      const first = await open();
      const events = f.create(c, 'biz_reopen');
      await first.applyEvents(events);
      await first.close();
      stores = stores.filter((store) => store !== first);
      const again = await MongoReadModelStore.connect({ url: url!, dbName: first.db.databaseName });
      stores.push(again);
      expect(await again.checkpoint()).toBe(events[events.length - 1].position);
      expect(await again.findCustomer('biz_reopen', c)).toMatchObject({ customerId: c });
    });

    it('keeps empty metadata, null fields and metadata keys with dots and dollars', async () => {
      const f = new EventFactory();
      const c = `cus_${randomUUID().slice(0, 8)}`;
      const biz = 'biz_fields';
      const store = await open();
      await store.applyEvents(f.create(c, biz, {}));
      expect(await store.findCustomer(biz, c)).toMatchObject({ metadata: {}, phoneNumber: null });
      const metadata = Object.fromEntries([
        ['a.b', 'x'],
        ['$y', 'z'],
        ['__proto__', 'p'],
      ]);
      await store.applyEvents(f.run({ type: 'UpdateCustomer', customerId: c, businessId: biz, metadata, now: f.now() }));
      expect((await store.findCustomer(biz, c))?.metadata).toEqual(metadata);
      await store.applyEvents(f.run({ type: 'UpdateCustomer', customerId: c, businessId: biz, metadata: {}, now: f.now() }));
      expect((await store.findCustomer(biz, c))?.metadata).toEqual({});
    });

    it('keeps int64 amounts beyond 32 bits exact', async () => {
      const f = new EventFactory();
      const c = `cus_${randomUUID().slice(0, 8)}`;
      const store = await open();
      const amountMinor = 2 ** 40 + 3;
      await store.applyEvents([...f.create(c, 'biz_big'), ...f.entry(c, 'biz_big', 'credit', amountMinor)]);
      expect((await store.listWallets(c)).find((w) => w.currency === 'USD')?.balanceMinor).toBe(amountMinor);
      expect((await store.listLedgerEntries(c, { pageNumber: 0, pageSize: 1 }))[0].afterBalanceMinor).toBe(amountMinor);
    });
  });
});

const SIMULATED_CRASH = 'simulated crash';

type WriteMethod = (this: Collection, ...args: unknown[]) => Promise<unknown>;

/**
 * Runs `work` letting only its first `allowed` write operations through, in order, and
 * failing everything after: an ordered bulkWrite whose process dies keeps only a prefix
 * of its operations. Resolves to how many write operations `work` attempted.
 */
async function countingWrites(work: () => Promise<void>, allowed: number): Promise<number> {
  const proto = Collection.prototype as unknown as Record<'bulkWrite' | 'updateOne', WriteMethod>;
  const original = { bulkWrite: proto.bulkWrite, updateOne: proto.updateOne };
  let attempted = 0;
  const take = (count: number) => {
    const granted = Math.max(0, Math.min(count, allowed - attempted));
    attempted += count;
    return granted;
  };
  proto.bulkWrite = async function (this: Collection, ops, ...rest) {
    const all = ops as unknown[];
    const granted = take(all.length);
    const result = granted > 0 ? await original.bulkWrite.call(this, all.slice(0, granted), ...rest) : undefined;
    if (granted < all.length) throw new Error(SIMULATED_CRASH);
    return result;
  };
  proto.updateOne = async function (this: Collection, ...args) {
    if (take(1) === 0) throw new Error(SIMULATED_CRASH);
    return original.updateOne.call(this, ...args);
  };
  try {
    await work();
    return attempted;
  } finally {
    Object.assign(proto, original);
  }
}

/** Holds `work`'s first bulkWrite (after it has read its state) until `meanwhile` has run. */
async function stallFirstBulkWrite(work: () => Promise<void>, meanwhile: () => Promise<void>): Promise<void> {
  const proto = Collection.prototype as unknown as Record<'bulkWrite', WriteMethod>;
  const original = proto.bulkWrite;
  proto.bulkWrite = async function (this: Collection, ...args) {
    proto.bulkWrite = original;
    await meanwhile();
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    proto.bulkWrite = original;
  }
}

/**
 * Holds `work`'s second read of customers or business counters (the first has completed)
 * until `meanwhile` has run: the window between a batch's two state reads.
 */
async function stallSecondStateRead(work: () => Promise<void>, meanwhile: () => Promise<void>): Promise<void> {
  const proto = Collection.prototype as unknown as { find: (this: Collection, ...args: unknown[]) => { toArray(): Promise<unknown[]> } };
  const original = proto.find;
  let stateReads = 0;
  proto.find = function (this: Collection, ...args) {
    const cursor = original.apply(this, args);
    if (!/_(customers|businesses)$/.test(this.collectionName) || ++stateReads < 2) return cursor;
    proto.find = original;
    const toArray = cursor.toArray.bind(cursor);
    cursor.toArray = async () => {
      await meanwhile();
      return toArray();
    };
    return cursor;
  };
  try {
    await work();
  } finally {
    proto.find = original;
  }
}

/** Three batches over one business: creates, entries in two currencies, an update, then more of each. */
function scenario() {
  const f = new EventFactory();
  const businessId = `biz_${randomUUID().slice(0, 8)}`;
  const customers = ['a', 'b', 'c', 'd'].map((label) => `cus_${label}_${randomUUID().slice(0, 8)}`);
  const [a, b, c, d] = customers;
  const batches = [
    [...f.create(a, businessId), ...f.entry(a, businessId, 'credit', 500)],
    [
      ...f.create(b, businessId),
      ...f.create(c, businessId),
      ...f.entry(a, businessId, 'credit', 30, 'INR'),
      ...f.entry(a, businessId, 'debit', 120),
      ...f.entry(b, businessId, 'credit', 7),
      ...f.run({
        type: 'UpdateCustomer',
        customerId: a,
        businessId,
        name: 'Grace',
        metadata: { 'a.b': 'x', $y: 'z' },
        now: f.now(),
      }),
    ],
    [...f.create(d, businessId), ...f.entry(d, businessId, 'credit', 1), ...f.entry(a, businessId, 'debit', 10, 'INR')],
  ];
  return { batches, customers, businessId };
}

/** Everything a reader can see, page by page. */
async function observe(store: MongoReadModelStore, customers: readonly string[], businessId: string) {
  const pages = async <T>(read: (pageNumber: number) => Promise<T[]>) => {
    const all: T[][] = [];
    for (let n = 0; n < 5; n += 1) all.push(await read(n));
    return all;
  };
  return {
    checkpoint: await store.checkpoint(),
    customers: await pages((pageNumber) => store.listCustomers(businessId, { pageNumber, pageSize: 2 })),
    perCustomer: await Promise.all(
      customers.map(async (id) => ({
        customer: await store.findCustomer(businessId, id),
        wallets: await store.listWallets(id),
        entries: await pages((pageNumber) => store.listLedgerEntries(id, { pageNumber, pageSize: 2 })),
        inr: await pages((pageNumber) => store.listLedgerEntries(id, { pageNumber, pageSize: 1, currency: 'INR' })),
      })),
    ),
  };
}

const config: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};

/** Recorded events as the write side would produce them, with deterministic entry ids and times. */
class EventFactory {
  private position = 0;
  private tick = Date.parse('2026-01-01T00:00:00.000Z');
  private readonly states = new Map<string, WalletState>();

  run(command: WalletCommand): RecordedEvent[] {
    const streamId = walletStreamId(command.customerId);
    let state = this.states.get(streamId) ?? initialWalletState();
    return decide(command, state, config).map((event) => {
      const revision = state.version;
      state = evolve(state, event, config);
      this.states.set(streamId, state);
      this.position += 1;
      return {
        streamId,
        revision,
        position: this.position,
        eventId: randomUUID(),
        ...encodeWalletEvent(event),
        metadata: {},
        recordedAt: '',
      };
    });
  }

  now(): string {
    this.tick += 1000;
    return new Date(this.tick).toISOString();
  }

  create(customerId: string, businessId: string, metadata: Record<string, string> = { plan: 'pro' }): RecordedEvent[] {
    return this.run({
      type: 'CreateCustomer',
      customerId,
      businessId,
      email: `${customerId}@example.com`,
      name: 'Ada',
      phoneNumber: null,
      metadata,
      now: this.now(),
    });
  }

  entry(customerId: string, businessId: string, direction: 'credit' | 'debit', amountMinor: number, currency = 'USD') {
    return this.run({
      type: 'RecordLedgerEntry',
      customerId,
      businessId,
      entryId: `wle_${this.position + 1}_${customerId}`,
      direction,
      currency,
      amountMinor,
      reason: `${direction} ${amountMinor}`,
      idempotencyKey: null,
      now: this.now(),
    });
  }
}
