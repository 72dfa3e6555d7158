import {
  DEFAULT_CURRENCIES,
  decide,
  encodeWalletEvent,
  evolveAll,
  initialWalletState,
  walletStreamId,
  type DeciderConfig,
  type WalletCommand,
  type WalletState,
} from '#domain';
import type { EventStore, NewEvent } from '#event-store';

export interface GenerateOptions {
  readonly customers: number;
  /** Events in all (about: each customer gets events / customers). */
  readonly events: number;
  readonly businessId: string;
  /** Events appended per customer per round (≤ 100, one append); rounds interleave customers in the log. */
  readonly eventsPerAppend?: number;
  readonly seed?: number;
  readonly onProgress?: (written: number) => void;
}

export interface GeneratedLedger {
  readonly events: number;
  readonly customers: readonly string[];
}

const DECIDER: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 24 * 3_600_000,
};

/**
 * Writes a realistic ledger straight into an event store: customers created, then
 * credits and debits in USD and INR (debits only within the balance, some with a reason,
 * some with an idempotency key), every event decided and evolved by the real decider and
 * encoded as the API would. Customers take turns, one append of a few events each per
 * round, so their streams interleave in the global log as live traffic would; each round's
 * appends are issued together so the store group-commits them.
 */
export async function generateLedger(store: EventStore, options: GenerateOptions): Promise<GeneratedLedger> {
  const perAppend = Math.min(options.eventsPerAppend ?? 10, 100);
  const perCustomer = Math.max(3, Math.floor(options.events / options.customers));
  const random = mulberry32(options.seed ?? 42);
  const customers = Array.from({ length: options.customers }, (_, i) => `cus_gen${i.toString(16).padStart(8, '0')}`);
  const states = new Map<string, WalletState>();
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  let entrySeq = 0;
  let written = 0;

  const commandFor = (customerId: string, state: WalletState): WalletCommand => {
    clock += 250;
    const now = new Date(clock).toISOString();
    if (state.customer === null) {
      return {
        type: 'CreateCustomer',
        customerId,
        businessId: options.businessId,
        email: `${customerId}@example.com`,
        name: `Customer ${customerId.slice(-4)}`,
        phoneNumber: random() < 0.5 ? '+15550100' : null,
        metadata: { plan: random() < 0.5 ? 'pro' : 'free' },
        now,
      };
    }
    const currency = random() < 0.7 ? 'USD' : 'INR';
    const balance = state.wallets.get(currency)?.balanceMinor ?? 0;
    const debit = balance > 0 && random() < 0.45;
    const amountMinor = debit ? 1 + Math.floor(random() * balance) : 100 + Math.floor(random() * 100_000);
    entrySeq += 1;
    return {
      type: 'RecordLedgerEntry',
      customerId,
      businessId: options.businessId,
      entryId: `wle_gen${entrySeq.toString(16).padStart(10, '0')}`,
      direction: debit ? 'debit' : 'credit',
      currency,
      amountMinor,
      reason: random() < 0.5 ? (debit ? 'api usage' : 'top-up') : null,
      idempotencyKey: random() < 0.3 ? `idem-${entrySeq}` : null,
      now,
    };
  };

  for (let round = 0; written < options.events; round += 1) {
    const appends: Promise<unknown>[] = [];
    for (const customerId of customers) {
      let state = states.get(customerId) ?? initialWalletState();
      if (state.version >= perCustomer) continue;
      const expected = state.version === 0 ? 'no_stream' : state.version - 1;
      const batch: NewEvent[] = [];
      while (batch.length < perAppend && state.version + batch.length < perCustomer) {
        const command = commandFor(customerId, state);
        const events = decide(command, state, DECIDER);
        if (batch.length + events.length > 100) break;
        const revision = state.version;
        state = evolveAll(state, events, DECIDER);
        events.forEach((event, index) => {
          batch.push({
            eventId: `evt_${customerId}_${revision + index}`,
            ...encodeWalletEvent(event),
            metadata: { correlationId: `gen-${round}`, causationId: `cmd-${customerId}-${revision}`, actor: 'key_generator' },
          });
        });
      }
      if (batch.length === 0) continue;
      states.set(customerId, state);
      written += batch.length;
      appends.push(store.append(walletStreamId(customerId), expected, batch));
    }
    if (appends.length === 0) break;
    await Promise.all(appends);
    options.onProgress?.(written);
  }
  return { events: written, customers };
}

/** Small deterministic PRNG, so a generated ledger is the same every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
