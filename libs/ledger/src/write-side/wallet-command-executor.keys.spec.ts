import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_CURRENCIES,
  DomainError,
  walletAfterEntry,
  walletStreamId,
  type DeciderConfig,
  type RecordLedgerEntry,
  type WalletCommand,
  type WalletState,
} from '#domain';
import { InMemoryEventStore, SqliteEventStore, type EventStore, type KeyIndex } from '#event-store';
import { WalletCommandExecutor, type ExecutorOptions } from './wallet-command-executor.js';

const HOUR_MS = 3_600_000;
const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 24 * HOUR_MS,
};
const context = { correlationId: 'req-1', actor: 'key_test' };
const BIZ = 'biz_a';
const CUSTOMER = 'cus_k';
const STREAM = walletStreamId(CUSTOMER);
const KEYS_CACHED_MAX = 2;

function newExecutor(store: EventStore, clock: () => Date, overrides: Partial<ExecutorOptions> = {}) {
  return new WalletCommandExecutor(store, decider, {
    retriesMax: 20,
    appendRetriesMax: 0,
    backoffBaseMs: 1,
    backoffMaxMs: 5,
    streamCacheMax: 100,
    readPageSize: 7,
    keysCachedMax: KEYS_CACHED_MAX,
    clock,
    ...overrides,
  });
}

async function createCustomer(executor: WalletCommandExecutor) {
  await executor.execute(
    CUSTOMER,
    (now): WalletCommand => ({ type: 'CreateCustomer', customerId: CUSTOMER, businessId: BIZ, email: 'a@b.co', name: 'A', phoneNumber: null, metadata: {}, now }),
    () => undefined,
    context,
  );
}

function entry(executor: WalletCommandExecutor, amountMinor: number, idempotencyKey: string | null, direction: 'credit' | 'debit' = 'credit') {
  return executor.execute(
    CUSTOMER,
    (now): RecordLedgerEntry => ({ type: 'RecordLedgerEntry', customerId: CUSTOMER, businessId: BIZ, entryId: `wle_${Math.random()}`, direction, currency: 'USD', amountMinor, reason: null, idempotencyKey, now }),
    (state, command) => walletAfterEntry(command as RecordLedgerEntry, state, decider),
    context,
  );
}

async function stateOf(executor: WalletCommandExecutor): Promise<WalletState> {
  let seen: WalletState | null = null;
  await executor.execute(
    CUSTOMER,
    (now): WalletCommand => ({ type: 'UpdateCustomer', customerId: CUSTOMER, businessId: BIZ, now }),
    (state) => {
      seen = state;
    },
    context,
  );
  return seen!;
}

async function entriesWithKey(store: EventStore, key: string): Promise<number> {
  const events = await store.readStream(STREAM, { fromRevision: 0, maxCount: 100_000 });
  return events.filter((e) => (e.data as { idempotencyKey?: string | null }).idempotencyKey === key).length;
}

/** Counts key lookups around the in-memory store's index. */
class CountingStore extends InMemoryEventStore {
  lookups = 0;

  constructor(clock: () => Date, indexedSinceMs = 0) {
    super(clock);
    const inner = this.keys;
    const keys: KeyIndex = {
      indexedSinceMs,
      findKey: (streamId, key) => {
        this.lookups += 1;
        return inner.findKey(streamId, key);
      },
      forgetKeysBefore: (before, max) => inner.forgetKeysBefore(before, max),
    };
    (this as unknown as { keys: KeyIndex }).keys = keys;
  }
}

/** Every append takes `delayMs`, so later commands are decided while earlier ones are in flight. */
class SlowStore extends CountingStore {
  constructor(
    clock: () => Date,
    private readonly delayMs: number,
  ) {
    super(clock);
  }

  override async append(...args: Parameters<EventStore['append']>) {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return super.append(...args);
  }
}

describe('WalletCommandExecutor with keys in the store index', () => {
  it('keeps at most keysCachedMax keys per stream in memory, however many entries are keyed', async () => {
    const store = new CountingStore(() => new Date());
    const executor = newExecutor(store, () => new Date());
    await createCustomer(executor);
    for (let i = 0; i < 30; i += 1) await entry(executor, 1, `k${i}`);
    expect((await stateOf(executor)).idempotency.size).toBeLessThanOrEqual(KEYS_CACHED_MAX);
    // A restarted writer folds the whole stream and still holds no more.
    expect((await stateOf(newExecutor(store, () => new Date()))).idempotency.size).toBeLessThanOrEqual(KEYS_CACHED_MAX);
  });

  it('answers a replay of a key no longer in memory from the store, once, with the original wallet', async () => {
    const store = new CountingStore(() => new Date());
    const executor = newExecutor(store, () => new Date());
    await createCustomer(executor);
    const original = await entry(executor, 7, 'first');
    for (let i = 0; i < 10; i += 1) await entry(executor, 1, `k${i}`);
    expect((await stateOf(executor)).idempotency.has('first')).toBe(false);
    const lookupsBefore = store.lookups;
    const replay = await entry(executor, 7, 'first');
    expect(store.lookups).toBeGreaterThan(lookupsBefore);
    expect(replay.result).toEqual(original.result);
    expect(await entriesWithKey(store, 'first')).toBe(1);
    // A different request under the evicted key is still refused.
    await expect(entry(executor, 8, 'first')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('applies concurrent identical keys once, from two writers, whether the key is cached or not', async () => {
    const store = new CountingStore(() => new Date());
    const writers = [newExecutor(store, () => new Date()), newExecutor(store, () => new Date())];
    await createCustomer(writers[0]);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => entry(writers[i % 2], 5, 'same')));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await entriesWithKey(store, 'same')).toBe(1);
    for (let i = 0; i < 10; i += 1) await entry(writers[0], 1, `k${i}`);
    const again = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => entry(writers[i % 2], 5, 'same')));
    expect(again.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await entriesWithKey(store, 'same')).toBe(1);
    const balance = (await stateOf(writers[0])).wallets.get('USD')?.balanceMinor;
    expect(balance).toBe(5 + 10);
  });

  it('never evicts a key decided but not yet stored: a duplicate arriving meanwhile still replays', async () => {
    const store = new SlowStore(() => new Date(), 20);
    const executor = newExecutor(store, () => new Date(), { keysCachedMax: 1 });
    await createCustomer(executor);
    // The first goes out alone; the other nine wait in the next append.
    const first = Array.from({ length: 10 }, (_, i) => entry(executor, 1, `k${i}`));
    // After the first append is stored (eviction runs) and while the second is still in flight.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const duplicates = Array.from({ length: 10 }, (_, i) => entry(executor, 1, `k${i}`));
    await Promise.all([...first, ...duplicates]);
    for (let i = 0; i < 10; i += 1) expect(await entriesWithKey(store, `k${i}`)).toBe(1);
  });

  it('looks keys up even without a bound of its own: a snapshot from a bounded writer lacks the evicted ones', async () => {
    const store = new CountingStore(() => new Date());
    const bounded = newExecutor(store, () => new Date(), { snapshotEveryEvents: 5 });
    await createCustomer(bounded);
    const original = await entry(bounded, 4, 'early');
    for (let i = 0; i < 12; i += 1) {
      await entry(bounded, 1, `k${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const snapshot = await store.snapshots.readSnapshot(STREAM);
    expect((snapshot?.state as { idempotency: Array<{ key: string }> }).idempotency.map((r) => r.key)).not.toContain('early');
    const unbounded = newExecutor(store, () => new Date(), { keysCachedMax: undefined });
    const replay = await entry(unbounded, 4, 'early');
    expect(replay.result).toEqual(original.result);
    expect(await entriesWithKey(store, 'early')).toBe(1);
  });

  it('answers a key from before a restart on the embedded store (old keys survive a restart)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'executor-keys-'));
    const file = join(dir, 'events.sqlite');
    const open = () => new SqliteEventStore({ filename: file, groupCommitMax: 256, idlePollMs: 50, busyTimeoutMs: 5000, clock: () => new Date() });
    try {
      const before = open();
      const first = newExecutor(before, () => new Date(), { snapshotEveryEvents: 5 });
      await createCustomer(first);
      const original = await entry(first, 9, 'before-restart');
      for (let i = 0; i < 40; i += 1) await entry(first, 1, `k${i}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await before.close();

      const after = open();
      const restarted = newExecutor(after, () => new Date(), { snapshotEveryEvents: 5 });
      const replay = await entry(restarted, 9, 'before-restart');
      expect(replay.result).toEqual(original.result);
      expect(await entriesWithKey(after, 'before-restart')).toBe(1);
      await after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forgets a key older than retention: the same key then records a new entry', async () => {
    const clock = { nowMs: Date.parse('2026-01-01T00:00:00Z') };
    const now = () => new Date(clock.nowMs);
    const store = new CountingStore(now);
    const executor = newExecutor(store, now);
    await createCustomer(executor);
    await entry(executor, 3, 'aging');
    for (let i = 0; i < 5; i += 1) await entry(executor, 1, `k${i}`);
    clock.nowMs += 24 * HOUR_MS + 1;
    await entry(executor, 3, 'aging');
    expect(await entriesWithKey(store, 'aging')).toBe(2);
    await store.keys.forgetKeysBefore(clock.nowMs - 24 * HOUR_MS, 1000);
    expect((await store.keys.findKey(STREAM, 'k0'))).toBeNull();
    expect((await store.keys.findKey(STREAM, 'aging'))?.revision).toBeGreaterThan(5);
  });

  it('never evicts a key decided before the store started indexing (it could not be found again)', async () => {
    const startMs = Date.parse('2026-01-01T00:00:00Z');
    const clock = { nowMs: startMs };
    const now = () => new Date(clock.nowMs);
    // The index started an hour after these entries: none of their keys is indexed.
    const store = new CountingStore(now, startMs + HOUR_MS);
    const executor = newExecutor(store, now);
    await createCustomer(executor);
    for (let i = 0; i < 10; i += 1) await entry(executor, 1, `unindexed-${i}`);
    expect((await stateOf(executor)).idempotency.size).toBe(10);
    expect((await stateOf(newExecutor(store, now))).idempotency.size).toBe(10);
  });

  it('refuses to decide when the index points to an event without that key', async () => {
    const store = new CountingStore(() => new Date());
    const executor = newExecutor(store, () => new Date());
    await createCustomer(executor);
    for (let i = 0; i < 5; i += 1) await entry(executor, 1, `k${i}`);
    (store.keys as { findKey: KeyIndex['findKey'] }).findKey = async (streamId, key) => ({ streamId, key, revision: 0, recordedAt: new Date().toISOString() });
    await expect(entry(executor, 1, 'k0')).rejects.toThrow(/does not hold that key/);
    expect(DomainError).toBeDefined();
  });
});
