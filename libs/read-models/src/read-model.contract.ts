import { randomUUID } from 'node:crypto';
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
import type { ReadModelStore } from './read-model.port.js';

export interface ReadModelHarness {
  readonly store: ReadModelStore;
  dispose(): Promise<void>;
}

const config: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};

/** Produces recorded events the way the write side would, with a shared global position counter. */
class EventFactory {
  private position = 0;
  private readonly states = new Map<string, WalletState>();
  private tick = Date.parse('2026-01-01T00:00:00.000Z');

  constructor(startPosition: number) {
    this.position = startPosition;
  }

  run(command: WalletCommand): RecordedEvent[] {
    const streamId = walletStreamId(command.customerId);
    let state = this.states.get(streamId) ?? initialWalletState();
    const events = decide(command, state, config);
    return events.map((event) => {
      const revision = state.version;
      state = evolve(state, event, config);
      this.states.set(streamId, state);
      this.position += 1;
      const stored = encodeWalletEvent(event);
      return { streamId, revision, position: this.position, eventId: randomUUID(), ...stored, metadata: {}, recordedAt: '' };
    });
  }

  now(): string {
    this.tick += 1000;
    return new Date(this.tick).toISOString();
  }

  create(customerId: string, businessId: string, email = `${customerId}@example.com`): RecordedEvent[] {
    return this.run({
      type: 'CreateCustomer', customerId, businessId, email, name: 'Ada', phoneNumber: null, metadata: { plan: 'pro' }, now: this.now(),
    });
  }

  entry(customerId: string, businessId: string, direction: 'credit' | 'debit', amountMinor: number, currency = 'USD') {
    return this.run({
      type: 'RecordLedgerEntry', customerId, businessId, entryId: `wle_${randomUUID()}`, direction, currency, amountMinor,
      reason: `${direction} ${amountMinor}`, idempotencyKey: null, now: this.now(),
    });
  }
}

/** Every read-model adapter runs this same suite. */
export function readModelContract(name: string, open: () => Promise<ReadModelHarness>): void {
  describe(`ReadModelStore contract: ${name}`, () => {
    let harness: ReadModelHarness;
    let store: ReadModelStore;
    let f: EventFactory;
    const id = (label: string) => `cus_${label}_${randomUUID().slice(0, 8)}`;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
      // Continue after whatever a shared server already holds, as a live projector would.
      f = new EventFactory((await store.checkpoint()) ?? 0);
    });
    afterEach(async () => harness.dispose());

    it('creates a customer with zero-balance wallets visible only to its business', async () => {
      const c = id('new');
      const events = f.create(c, 'biz_a');
      await store.applyEvents(events);
      expect(await store.checkpoint()).toBe(events[events.length - 1].position);
      expect(await store.findCustomer('biz_a', c)).toMatchObject({
        customerId: c, businessId: 'biz_a', email: `${c}@example.com`, name: 'Ada', phoneNumber: null, metadata: { plan: 'pro' },
      });
      expect(await store.findCustomer('biz_b', c)).toBeNull();
      const wallets = await store.listWallets(c);
      expect(wallets.map((w) => [w.currency, w.balanceMinor])).toEqual([['INR', 0], ['USD', 0]]);
    });

    it('tracks balances and history with before and after balances, newest first', async () => {
      const c = id('hist');
      await store.applyEvents([
        ...f.create(c, 'biz_a'),
        ...f.entry(c, 'biz_a', 'credit', 500),
        ...f.entry(c, 'biz_a', 'debit', 120),
        ...f.entry(c, 'biz_a', 'credit', 7, 'INR'),
      ]);
      const usd = (await store.listWallets(c)).find((w) => w.currency === 'USD');
      expect(usd?.balanceMinor).toBe(380);
      const entries = await store.listLedgerEntries(c, { pageNumber: 0, pageSize: 10 });
      expect(entries.map((e) => [e.currency, e.isCredit, e.amountMinor, e.beforeBalanceMinor, e.afterBalanceMinor])).toEqual([
        ['INR', true, 7, 0, 7],
        ['USD', false, 120, 500, 380],
        ['USD', true, 500, 0, 500],
      ]);
      expect(entries[1]).toMatchObject({ businessId: 'biz_a', eventType: 'merchant_adjustment', reason: 'debit 120' });
    });

    it('pages with 0-based page numbers, at any depth, with and without a currency filter', async () => {
      const c = id('page');
      const events = f.create(c, 'biz_a');
      for (let i = 1; i <= 25; i += 1) events.push(...f.entry(c, 'biz_a', 'credit', i, i % 5 === 0 ? 'INR' : 'USD'));
      await store.applyEvents(events);
      const amounts = async (pageNumber: number, pageSize: number, currency?: string) =>
        (await store.listLedgerEntries(c, { pageNumber, pageSize, currency })).map((e) => e.amountMinor);
      expect(await amounts(0, 10)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
      expect(await amounts(2, 10)).toEqual([5, 4, 3, 2, 1]);
      expect(await amounts(3, 10)).toEqual([]);
      expect(await amounts(0, 3, 'INR')).toEqual([25, 20, 15]);
      expect(await amounts(1, 3, 'INR')).toEqual([10, 5]);
      expect(await amounts(0, 100, 'EUR')).toEqual([]);
    });

    it('ignores a replayed batch and a redelivered event, changing nothing', async () => {
      const c = id('replay');
      const events = [...f.create(c, 'biz_a'), ...f.entry(c, 'biz_a', 'credit', 100), ...f.entry(c, 'biz_a', 'debit', 30)];
      await store.applyEvents(events);
      await store.applyEvents(events);
      await store.applyEvents(events.slice(2));
      // The same stream revision arriving again at a later global position (an out-of-order redelivery).
      const later = (await store.checkpoint()) ?? 0;
      await store.applyEvents(events.map((e, i) => ({ ...e, position: later + i + 1 })));
      expect((await store.listWallets(c)).find((w) => w.currency === 'USD')?.balanceMinor).toBe(70);
      expect(await store.listLedgerEntries(c, { pageNumber: 0, pageSize: 10 })).toHaveLength(2);
    });

    it('records the log it was built from, and keeps the first identity recorded', async () => {
      if (store.logIdentity === undefined || store.recordLogIdentity === undefined) return;
      const before = await store.logIdentity();
      await store.recordLogIdentity(`log-${randomUUID()}@1`);
      const recorded = await store.logIdentity();
      expect(recorded).not.toBeNull();
      if (before !== null) expect(recorded).toBe(before);
      // A projector on another log must not be able to claim these read models.
      await store.recordLogIdentity(`other-${randomUUID()}@1`);
      expect(await store.logIdentity()).toBe(recorded);
    });

    it('applies customer updates and lists a business\'s customers newest first', async () => {
      const biz = `biz_${randomUUID().slice(0, 8)}`;
      const [a, b, c] = [id('a'), id('b'), id('c')];
      await store.applyEvents([...f.create(a, biz), ...f.create(b, biz), ...f.create(c, biz), ...f.create(id('x'), 'biz_other')]);
      await store.applyEvents(
        f.run({ type: 'UpdateCustomer', customerId: b, businessId: biz, name: 'Grace', phoneNumber: '+15550100', now: f.now() }),
      );
      expect(await store.findCustomer(biz, b)).toMatchObject({ name: 'Grace', phoneNumber: '+15550100', email: `${b}@example.com` });
      const page0 = await store.listCustomers(biz, { pageNumber: 0, pageSize: 2 });
      const page1 = await store.listCustomers(biz, { pageNumber: 1, pageSize: 2 });
      expect(page0.map((x) => x.customerId)).toEqual([c, b]);
      expect(page1.map((x) => x.customerId)).toEqual([a]);
      const byEmail = await store.listCustomers(biz, { pageNumber: 0, pageSize: 10, email: `${a}@example.com` });
      expect(byEmail.map((x) => x.customerId)).toEqual([a]);
    });
  });
}
