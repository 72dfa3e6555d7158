import {
  DEFAULT_CURRENCIES,
  WALLET_STATE_VERSION,
  walletAfterEntry,
  walletStreamId,
  type DeciderConfig,
  type RecordLedgerEntry,
  type WalletCommand,
  type WalletState,
} from '#domain';
import { InMemoryEventStore, type ReadStreamOptions, type SnapshotStore, type StreamSnapshot } from '#event-store';
import { WalletCommandExecutor, type ExecutorOptions } from './wallet-command-executor.js';
import { walletStateToJson, type WalletStateJson } from './wallet-snapshot.js';

const HOUR_MS = 3_600_000;
const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 24 * HOUR_MS,
};
const context = { correlationId: 'req-1', actor: 'key_test' };
const BIZ = 'biz_a';
const CUSTOMER = 'cus_s';
const STREAM = walletStreamId(CUSTOMER);
/** CustomerCreated and one WalletOpened per configured currency. */
const CREATED_EVENTS = 1 + DEFAULT_CURRENCIES.length;

/** Records where each stream read starts, and lets a test break the snapshot store. */
class RecordingStore extends InMemoryEventStore {
  readsFrom: number[] = [];
  failSnapshotWrites = false;
  failSnapshotReads = false;

  constructor(clock: () => Date) {
    super(clock);
    const inner = this.snapshots;
    (this as { snapshots: SnapshotStore }).snapshots = {
      readSnapshot: async (streamId) => {
        if (this.failSnapshotReads) throw new Error('snapshot table unreadable');
        return inner.readSnapshot(streamId);
      },
      writeSnapshot: async (snapshot) => {
        if (this.failSnapshotWrites) throw new Error('disk full');
        return inner.writeSnapshot(snapshot);
      },
    };
  }

  override async readStream(streamId: string, options: ReadStreamOptions) {
    this.readsFrom.push(options.fromRevision);
    return super.readStream(streamId, options);
  }
}

function setup(startMs = Date.parse('2026-01-01T00:00:00Z')) {
  const clock = { nowMs: startMs };
  const now = () => new Date(clock.nowMs);
  const store = new RecordingStore(now);
  const warnings: string[] = [];
  const executor = (overrides: Partial<ExecutorOptions> = {}) =>
    new WalletCommandExecutor(store, decider, {
      retriesMax: 10,
      appendRetriesMax: 0,
      backoffBaseMs: 1,
      backoffMaxMs: 5,
      streamCacheMax: 1000,
      readPageSize: 4,
      snapshotEveryEvents: 5,
      clock: now,
      warn: (message) => warnings.push(message),
      ...overrides,
    });
  return { clock, store, warnings, executor };
}

async function createCustomer(executor: WalletCommandExecutor) {
  await executor.execute(
    CUSTOMER,
    (now): WalletCommand => ({ type: 'CreateCustomer', customerId: CUSTOMER, businessId: BIZ, email: 'a@b.co', name: 'A', phoneNumber: null, metadata: {}, now }),
    () => undefined,
    context,
  );
}

async function entry(executor: WalletCommandExecutor, direction: 'credit' | 'debit', amountMinor: number, idempotencyKey: string | null = null, entryId = `wle_${Math.random()}`) {
  return executor.execute(
    CUSTOMER,
    (now): RecordLedgerEntry => ({ type: 'RecordLedgerEntry', customerId: CUSTOMER, businessId: BIZ, entryId, direction, currency: 'USD', amountMinor, reason: null, idempotencyKey, now }),
    (state, command) => walletAfterEntry(command as RecordLedgerEntry, state, decider),
    context,
  );
}

/** The state a fresh executor loads, as JSON (keys judged at `nowMs`), through a command that changes nothing. */
async function loadedState(executor: WalletCommandExecutor, nowMs: number): Promise<WalletStateJson> {
  let seen: WalletState | null = null;
  await executor.execute(
    CUSTOMER,
    (now): WalletCommand => ({ type: 'UpdateCustomer', customerId: CUSTOMER, businessId: BIZ, now }),
    (state) => {
      seen = state;
    },
    context,
  );
  return walletStateToJson(seen!, nowMs - decider.idempotencyRetentionMs);
}

async function waitForSnapshot(store: InMemoryEventStore, revision: number): Promise<StreamSnapshot> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const snapshot = await store.snapshots!.readSnapshot(STREAM);
    if (snapshot !== null && snapshot.revision >= revision) return snapshot;
    if (Date.now() > deadline) throw new Error(`no snapshot at revision ${revision}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The same events folded from the stream's start, with no snapshot at all. */
async function fullFold(store: InMemoryEventStore, nowMs: number): Promise<WalletStateJson> {
  const plain = new InMemoryEventStore();
  const events = await store.readStream(STREAM, { fromRevision: 0, maxCount: 100_000 });
  for (let i = 0; i < events.length; i += 50) {
    const slice = events.slice(i, i + 50);
    await plain.append(STREAM, i === 0 ? 'no_stream' : i - 1, slice.map((e) => ({ eventId: e.eventId, type: e.type, schemaVersion: e.schemaVersion, data: e.data, metadata: e.metadata })));
  }
  const executor = new WalletCommandExecutor(plain, decider, { retriesMax: 0, appendRetriesMax: 0, backoffBaseMs: 1, backoffMaxMs: 1, streamCacheMax: 10, readPageSize: 1000, clock: () => new Date(nowMs) });
  return loadedState(executor, nowMs);
}

describe('WalletCommandExecutor snapshots', () => {
  it('writes a snapshot every N events after the append; a restarted executor reads only the events after it', async () => {
    const { clock, store, executor } = setup();
    const first = executor();
    await createCustomer(first);
    for (let i = 0; i < 8; i += 1) {
      await entry(first, 'credit', 10);
      // Lets a started snapshot write finish (the in-memory store's appends never leave the microtask queue).
      await settle();
    }
    const events = CREATED_EVENTS + 8;
    // Every 5 events (one event per entry): the newest snapshot holds the last multiple of 5.
    const snapshot = await waitForSnapshot(store, Math.floor(events / 5) * 5 - 1);
    expect(snapshot.stateVersion).toBe(WALLET_STATE_VERSION);
    expect(snapshot.revision).toBe(Math.floor(events / 5) * 5 - 1);

    store.readsFrom = [];
    const restarted = executor();
    const state = await loadedState(restarted, clock.nowMs);
    // The snapshot's own last event (to check the stream holds it), then the tail.
    expect(store.readsFrom[0]).toBe(snapshot.revision);
    expect(store.readsFrom).not.toContain(0);
    expect(state).toEqual(await fullFold(store, clock.nowMs));
    expect(state.wallets.find((w) => w.currency === 'USD')?.balanceMinor).toBe(80);
  });

  it('answers a replayed key remembered only through the snapshot, and writes nothing', async () => {
    const { store, executor } = setup();
    const first = executor();
    await createCustomer(first);
    const original = await entry(first, 'credit', 25, 'key-1', 'wle_original');
    for (let i = 0; i < 6; i += 1) await entry(first, 'credit', 1);
    // The first snapshot, taken after the keyed entry.
    await waitForSnapshot(store, CREATED_EVENTS);
    const restarted = executor();
    const replay = await entry(restarted, 'credit', 25, 'key-1', 'wle_other');
    expect(replay.result).toEqual(original.result);
    expect(replay.position).toBe((await store.headPosition())!);
    const events = await store.readStream(STREAM, { fromRevision: 0, maxCount: 100 });
    expect(events.filter((e) => (e.data as { idempotencyKey?: string }).idempotencyKey === 'key-1')).toHaveLength(1);
  });

  it('catches a stale snapshot up with the events stored after it', async () => {
    const { clock, store, executor } = setup();
    const first = executor();
    await createCustomer(first);
    for (let i = 0; i < 3; i += 1) await entry(first, 'credit', 100, `a${i}`);
    const snapshot = await waitForSnapshot(store, 4);
    // Another writer that never snapshots moves the stream on.
    const other = executor({ snapshotEveryEvents: undefined });
    for (let i = 0; i < 7; i += 1) await entry(other, 'debit', 10, `b${i}`);
    expect((await store.snapshots.readSnapshot(STREAM))?.revision).toBe(snapshot.revision);

    const restarted = executor();
    const state = await loadedState(restarted, clock.nowMs);
    expect(state).toEqual(await fullFold(store, clock.nowMs));
    expect(state.version).toBe(CREATED_EVENTS + 10);
    expect(state.wallets.find((w) => w.currency === 'USD')?.balanceMinor).toBe(230);
    expect(state.idempotency.map((r) => r.key)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
  });

  it.each([
    ['written by an older version of evolve', (s: StreamSnapshot) => ({ ...s, stateVersion: WALLET_STATE_VERSION - 1 })],
    ['claiming a revision beyond the stream', (s: StreamSnapshot) => ({ ...s, revision: 40, state: { ...(s.state as WalletStateJson), version: 41 } })],
    ['whose state is malformed', (s: StreamSnapshot) => ({ ...s, state: { ...(s.state as WalletStateJson), wallets: 'USD' } })],
    ['whose state does not match its revision', (s: StreamSnapshot) => ({ ...s, state: { ...(s.state as WalletStateJson), version: 3 } })],
  ])('ignores a snapshot %s and folds the stream from its start', async (_label, tamper) => {
    const { clock, store, executor } = setup();
    const first = executor({ snapshotEveryEvents: undefined });
    await createCustomer(first);
    for (let i = 0; i < 6; i += 1) await entry(first, 'credit', 10);
    const truth = await loadedState(first, clock.nowMs);
    // A snapshot that would be wrong if trusted: a balance the stream never had.
    const lying = walletStateToJson({ ...(await loadedStateRaw(first)), wallets: new Map([['USD', { currency: 'USD', balanceMinor: 999_999, openedAt: 'x', updatedAt: 'x' }]]) }, 0);
    await store.snapshots.writeSnapshot(tamper({ streamId: STREAM, revision: lying.version - 1, stateVersion: WALLET_STATE_VERSION, state: lying }));

    store.readsFrom = [];
    const state = await loadedState(executor(), clock.nowMs);
    expect(state).toEqual(truth);
    expect(store.readsFrom).toContain(0);
  });

  it('trusts an untampered snapshot of the same shape (the control for the cases above)', async () => {
    const { clock, store, executor } = setup();
    const first = executor({ snapshotEveryEvents: undefined });
    await createCustomer(first);
    for (let i = 0; i < 6; i += 1) await entry(first, 'credit', 10);
    const lying = walletStateToJson({ ...(await loadedStateRaw(first)), wallets: new Map([['USD', { currency: 'USD', balanceMinor: 999_999, openedAt: 'x', updatedAt: 'x' }]]) }, 0);
    await store.snapshots.writeSnapshot({ streamId: STREAM, revision: lying.version - 1, stateVersion: WALLET_STATE_VERSION, state: lying });
    const state = await loadedState(executor(), clock.nowMs);
    expect(state.wallets.find((w) => w.currency === 'USD')?.balanceMinor).toBe(999_999);
  });

  it('logs a failed snapshot write and never fails a command for it', async () => {
    const { clock, store, warnings, executor } = setup();
    store.failSnapshotWrites = true;
    const first = executor();
    await createCustomer(first);
    for (let i = 0; i < 12; i += 1) await entry(first, 'credit', 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(warnings.some((w) => w.includes('not written'))).toBe(true);
    expect(await store.snapshots.readSnapshot(STREAM)).toBeNull();
    store.failSnapshotWrites = false;
    expect((await loadedState(executor(), clock.nowMs)).wallets.find((w) => w.currency === 'USD')?.balanceMinor).toBe(12);
  });

  it('folds the stream from its start when the snapshot cannot be read', async () => {
    const { clock, store, warnings, executor } = setup();
    const first = executor();
    await createCustomer(first);
    for (let i = 0; i < 8; i += 1) await entry(first, 'credit', 1);
    await waitForSnapshot(store, CREATED_EVENTS);
    store.failSnapshotReads = true;
    store.readsFrom = [];
    const state = await loadedState(executor(), clock.nowMs);
    expect(state).toEqual(await fullFold(store, clock.nowMs));
    expect(store.readsFrom[0]).toBe(0);
    expect(warnings.some((w) => w.includes('not read'))).toBe(true);
  });

  it('does not carry keys older than the retention window, and still carries the live ones', async () => {
    const { clock, store, executor } = setup();
    const first = executor();
    await createCustomer(first);
    await entry(first, 'credit', 5, 'old-key');
    await settle();
    clock.nowMs += 23 * HOUR_MS;
    await entry(first, 'credit', 5, 'young-key');
    // The first snapshot, written within both keys' retention, carries both.
    const young = await waitForSnapshot(store, CREATED_EVENTS);
    expect((young.state as WalletStateJson).idempotency.map((r) => r.key)).toEqual(['old-key', 'young-key']);
    // Past old-key's retention, before young-key's; no entry since, so the fold itself still holds old-key.
    clock.nowMs += 2 * HOUR_MS;
    for (let i = 0; i < 5; i += 1) {
      await first.execute(
        CUSTOMER,
        (now): WalletCommand => ({ type: 'UpdateCustomer', customerId: CUSTOMER, businessId: BIZ, name: `N${i}`, now }),
        () => undefined,
        context,
      );
    }
    const snapshot = await waitForSnapshot(store, young.revision + 5);
    expect((snapshot.state as WalletStateJson).idempotency.map((r) => r.key)).toEqual(['young-key']);
  });
});

async function loadedStateRaw(executor: WalletCommandExecutor): Promise<WalletState> {
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

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2));
}
