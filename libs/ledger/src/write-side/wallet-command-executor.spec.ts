import {
  DEFAULT_CURRENCIES,
  DomainError,
  walletAfterEntry,
  walletStreamId,
  type DeciderConfig,
  type RecordLedgerEntry,
  type WalletCommand,
} from '#domain';
import {
  InMemoryEventStore,
  StoreRefusedError,
  WrongExpectedRevisionError,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
} from '#event-store';
import { WalletCommandExecutor } from './wallet-command-executor.js';

const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};
const context = { correlationId: 'req-1', actor: 'key_test' };
const BIZ = 'biz_a';

/** Counts calls and can fail chosen appends, around a real in-memory store. */
class InstrumentedStore extends InMemoryEventStore {
  appends = 0;
  streamReads = 0;
  failNext: Array<() => Error> = [];

  override async append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]) {
    this.appends += 1;
    const failure = this.failNext.shift();
    if (failure !== undefined) throw failure();
    return super.append(streamId, expected, events);
  }

  override async readStream(streamId: string, options: { fromRevision: number; maxCount: number }) {
    this.streamReads += 1;
    return super.readStream(streamId, options);
  }
}

function newExecutor(store: EventStore) {
  return new WalletCommandExecutor(store, decider, {
    retriesMax: 10,
    appendRetriesMax: 2,
    backoffBaseMs: 1,
    backoffMaxMs: 5,
    streamCacheMax: 1000,
    readPageSize: 100,
    clock: () => new Date(),
  });
}

async function createCustomer(executor: WalletCommandExecutor, customerId: string) {
  await executor.execute(
    customerId,
    (now): WalletCommand => ({
      type: 'CreateCustomer',
      customerId,
      businessId: BIZ,
      email: 'a@b.co',
      name: 'A',
      phoneNumber: null,
      metadata: {},
      now,
    }),
    () => undefined,
    context,
  );
}

function entry(
  executor: WalletCommandExecutor,
  customerId: string,
  direction: 'credit' | 'debit',
  amountMinor: number,
  idempotencyKey: string | null = null,
) {
  return executor.execute(
    customerId,
    (now): RecordLedgerEntry => ({
      type: 'RecordLedgerEntry',
      customerId,
      businessId: BIZ,
      entryId: `wle_${Math.random()}`,
      direction,
      currency: 'USD',
      amountMinor,
      reason: null,
      idempotencyKey,
      now,
    }),
    (state, command) => walletAfterEntry(command as RecordLedgerEntry, state, decider).balanceMinor,
    context,
  );
}

async function streamTypes(store: EventStore, customerId: string) {
  return (await store.readStream(walletStreamId(customerId), { fromRevision: 0, maxCount: 10_000 })).map((e) => e.type);
}

describe('WalletCommandExecutor', () => {
  it('decides 200 concurrent debits on one customer exactly: 100 succeed, 100 are refused, none fail spuriously', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    await entry(executor, 'cus_1', 'credit', 100);
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => entry(executor, 'cus_1', 'debit', 1)));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    for (const r of refused) expect((r.reason as DomainError).code).toBe('WALLET.INSUFFICIENT_BALANCE');
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletDebited')).toHaveLength(100);
  });

  it("splits a backlog of more than one append's worth of events into several appends, all applied", async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const results = await Promise.allSettled(Array.from({ length: 250 }, () => entry(executor, 'cus_1', 'credit', 1)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletCredited')).toHaveLength(250);
  });

  it('groups entries decided while an append is in flight into one append', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const before = store.appends;
    await Promise.all(Array.from({ length: 50 }, () => entry(executor, 'cus_1', 'credit', 1)));
    expect(store.appends - before).toBeLessThan(5);
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletCredited')).toHaveLength(50);
  });

  it('reads a stream once, then decides from cached state', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const reads = store.streamReads;
    for (let i = 0; i < 20; i += 1) await entry(executor, 'cus_1', 'credit', 1);
    expect(store.streamReads).toBe(reads);
  });

  it('reloads after another writer appended behind its back, and decides on the true balance', async () => {
    const store = new InstrumentedStore();
    const writerA = newExecutor(store);
    const writerB = newExecutor(store);
    await createCustomer(writerA, 'cus_1');
    await entry(writerA, 'cus_1', 'credit', 10);
    await entry(writerB, 'cus_1', 'debit', 10);
    // writerA's cache still says 10; the store says 0.
    await expect(entry(writerA, 'cus_1', 'debit', 5)).rejects.toMatchObject({ code: 'WALLET.INSUFFICIENT_BALANCE' });
    const { result } = await entry(writerA, 'cus_1', 'credit', 3);
    expect(result).toBe(3);
  });

  it("does not refuse a debit on stale cache: another writer's credit is seen before the refusal is final", async () => {
    const store = new InstrumentedStore();
    const [writerX, writerY] = [newExecutor(store), newExecutor(store)];
    await createCustomer(writerX, 'cus_1');
    await entry(writerY, 'cus_1', 'credit', 500);
    const { result } = await entry(writerX, 'cus_1', 'debit', 300);
    expect(result).toBe(200);
  });

  it('resends an identical append after an error of unknown outcome, applying it once', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    store.failNext.push(() => new Error('connection reset'));
    const { result } = await entry(executor, 'cus_1', 'credit', 42);
    expect(result).toBe(42);
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletCredited')).toHaveLength(1);
  });

  it('does not resend an append the store refused for good (too large, deleted stream, denied access)', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const appendsBefore = store.appends;
    store.failNext.push(() => new StoreRefusedError('wallet-cus_1', 'access_denied'));
    await expect(entry(executor, 'cus_1', 'credit', 42)).rejects.toBeTruthy();
    // One attempt, where an error of unknown outcome would have been resent (appendRetriesMax: 2).
    expect(store.appends - appendsBefore).toBe(1);
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletCredited')).toHaveLength(0);
  });

  it('re-decides everything built on a failed append, so no entry rests on state that was never stored', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    store.failNext.push(() => new WrongExpectedRevisionError(walletStreamId('cus_1'), 0, 1));
    // The first credit's append fails; the debits decided on top of it must not survive on their own.
    const credit = entry(executor, 'cus_1', 'credit', 5);
    const debits = Array.from({ length: 5 }, () => entry(executor, 'cus_1', 'debit', 1));
    const results = await Promise.allSettled([credit, ...debits]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const final = await entry(executor, 'cus_1', 'credit', 0 + 1);
    expect(final.result).toBe(1);
  });

  it('applies 20 concurrent uses of one idempotency key once, all answering the original balance', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const results = await Promise.all(Array.from({ length: 20 }, () => entry(executor, 'cus_1', 'credit', 7, 'same-key')));
    expect(results.map((r) => r.result)).toEqual(Array(20).fill(7));
    expect((await streamTypes(store, 'cus_1')).filter((t) => t === 'WalletCredited')).toHaveLength(1);
  });

  it("makes a replay wait for what its answer rests on: it reports the stream's last position", async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await createCustomer(executor, 'cus_1');
    const original = await entry(executor, 'cus_1', 'credit', 9, 'key-1');
    const replay = await entry(executor, 'cus_1', 'credit', 9, 'key-1');
    expect(replay.position).toBe(original.position);
    // A fresh process loads the stream and still knows where it ends.
    const reloaded = await entry(newExecutor(store), 'cus_1', 'credit', 9, 'key-1');
    expect(reloaded.position).toBe(original.position);
  });

  it('refuses a command on an unknown customer without writing', async () => {
    const store = new InstrumentedStore();
    const executor = newExecutor(store);
    await expect(entry(executor, 'cus_missing', 'credit', 1)).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });
    expect(store.appends).toBe(0);
  });
});
