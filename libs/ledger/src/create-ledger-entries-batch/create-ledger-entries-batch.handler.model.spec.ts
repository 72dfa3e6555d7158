import fc from 'fast-check';
import {
  DEFAULT_CURRENCIES,
  DomainError,
  walletStreamId,
  type DeciderConfig,
  type LedgerEntryData,
} from '#domain';
import { InMemoryEventStore, type EventStore } from '#event-store';
import type { Actor } from '../actor.js';
import type { LedgerConfig } from '../ledger-config.js';
import type { ReadYourWrites } from '../read-side/read-your-writes.js';
import { WalletCommandExecutor, type ExecutorOptions } from '../write-side/wallet-command-executor.js';
import { CreateLedgerEntriesBatchCommand, type BatchEntryOutcome, type BatchLedgerEntry } from './create-ledger-entries-batch.command.js';
import { CommandRunner } from '../write-side/command-runner.js';
import { CreateLedgerEntriesBatchHandler } from './create-ledger-entries-batch.handler.js';

const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};
const config = { batchEntriesMax: 1000, readYourWritesTimeoutMs: 1000 } as LedgerConfig;
const actor: Actor = { businessId: 'biz', keyFingerprint: 'key_model', requestId: 'req_model' };
const options: ExecutorOptions = {
  retriesMax: 50,
  appendRetriesMax: 0,
  backoffBaseMs: 0,
  backoffMaxMs: 0,
  streamCacheMax: 10,
  readPageSize: 7,
  clock: () => new Date(),
};
/** Two customers of the caller's business, and one of another business (a per-entry 404). */
const CUSTOMERS = ['cus_a', 'cus_b', 'cus_other'] as const;

type Op = { customer: (typeof CUSTOMERS)[number]; direction: 'credit' | 'debit'; amountMinor: number; key: string | null };

const opArb: fc.Arbitrary<Op> = fc.record({
  customer: fc.constantFrom(...CUSTOMERS),
  direction: fc.constantFrom('credit' as const, 'debit' as const),
  amountMinor: fc.integer({ min: 1, max: 50 }),
  // A small key space makes repeats inside one batch, and across batches, likely.
  key: fc.option(fc.constantFrom('k1', 'k2'), { nil: null }),
});

function scheduledStore(s: fc.Scheduler, store: EventStore): EventStore {
  return {
    append: s.scheduleFunction((...args: Parameters<EventStore['append']>) => store.append(...args)),
    readStream: s.scheduleFunction((...args: Parameters<EventStore['readStream']>) => store.readStream(...args)),
    readAll: (o) => store.readAll(o),
    subscribe: (o, h, e) => store.subscribe(o, h, e),
    close: () => store.close(),
  };
}

async function createCustomers(executor: WalletCommandExecutor): Promise<void> {
  for (const customerId of CUSTOMERS) {
    await executor.execute(
      customerId,
      (now) => ({ type: 'CreateCustomer', customerId, businessId: customerId === 'cus_other' ? 'biz_other' : 'biz', email: 'm@x.co', name: 'M', phoneNumber: null, metadata: {}, now }),
      () => undefined,
      { correlationId: 'setup', actor: 'setup' },
    );
  }
}

/** Entries carry their batch and index in `reason` (keyed ones share a reason per key, so a resend is the same request). */
function toEntries(ops: readonly Op[], batch: number): BatchLedgerEntry[] {
  return ops.map((op, index) => ({
    customerId: op.customer,
    input: { direction: op.direction, currency: 'USD', amountMinor: op.amountMinor, reason: op.key === null ? `b${batch}:${index}` : null, idempotencyKey: op.key },
  }));
}

type Expected = { ok: true; balance: number } | { ok: false; code: string };

/** The plain sequential model: batches in turn, each batch's entries in array order. */
function model(batches: readonly (readonly Op[])[]): Expected[][] {
  const balances = new Map<string, number>();
  const keys = new Map<string, { op: Op; balance: number }>();
  return batches.map((ops) =>
    ops.map((op): Expected => {
      if (op.customer === 'cus_other') return { ok: false, code: 'CUSTOMER_NOT_FOUND' };
      const seen = op.key === null ? undefined : keys.get(`${op.customer}/${op.key}`);
      if (seen !== undefined) {
        const same = seen.op.direction === op.direction && seen.op.amountMinor === op.amountMinor;
        return same ? { ok: true, balance: seen.balance } : { ok: false, code: 'IDEMPOTENCY_KEY_REUSED' };
      }
      const balance = balances.get(op.customer) ?? 0;
      if (op.direction === 'debit' && op.amountMinor > balance) return { ok: false, code: 'WALLET.INSUFFICIENT_BALANCE' };
      const after = balance + (op.direction === 'credit' ? op.amountMinor : -op.amountMinor);
      balances.set(op.customer, after);
      if (op.key !== null) keys.set(`${op.customer}/${op.key}`, { op, balance: after });
      return { ok: true, balance: after };
    }),
  );
}

function observed(outcome: BatchEntryOutcome): Expected {
  if (outcome.ok) return { ok: true, balance: outcome.wallet.balanceMinor };
  if (outcome.error instanceof DomainError) return { ok: false, code: outcome.error.code };
  return { ok: false, code: `unexpected: ${String(outcome.error)}` };
}

function recordingReadYourWrites(): ReadYourWrites & { readonly waited: number[] } {
  const waited: number[] = [];
  return { waited, waitFor: async (position) => (waited.push(position), true) };
}

async function committedEntries(store: EventStore, customerId: string) {
  const all = await store.readAll({ after: null, maxCount: 100_000 });
  return all
    .filter((e) => e.streamId === walletStreamId(customerId) && (e.type === 'WalletCredited' || e.type === 'WalletDebited'))
    .map((e) => ({ type: e.type, position: e.position, data: e.data as LedgerEntryData }));
}

describe('CreateLedgerEntriesBatchHandler (model-based)', () => {
  it('answers every entry of consecutive batches as the sequential model does, whatever order the store completes I/O in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 3 }), async (s, batches) => {
        const memory = new InMemoryEventStore();
        const executor = new WalletCommandExecutor(scheduledStore(s, memory), decider, options);
        await s.waitFor(createCustomers(executor));
        const readYourWrites = recordingReadYourWrites();
        const handler = new CreateLedgerEntriesBatchHandler(executor, new CommandRunner(executor, readYourWrites, config), config, decider);

        const expected = model(batches);
        for (const [b, ops] of batches.entries()) {
          const outcomes = await s.waitFor(handler.execute(new CreateLedgerEntriesBatchCommand(actor, toEntries(ops, b))));
          expect(outcomes.map(observed)).toEqual(expected[b]);
        }
        // The answer waited for the last write of the batch, wherever it landed.
        const positions = (await Promise.all(CUSTOMERS.map((c) => committedEntries(memory, c)))).flat().map((e) => e.position);
        if (positions.length > 0) expect(Math.max(...readYourWrites.waited)).toBe(Math.max(...positions));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps each customer\'s batch entries in array order and applies each at most once, with a second writer racing it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(opArb, { minLength: 1, maxLength: 15 }),
        fc.array(opArb, { minLength: 0, maxLength: 6 }),
        async (s, ops, racing) => {
          const memory = new InMemoryEventStore();
          const store = scheduledStore(s, memory);
          const executor = new WalletCommandExecutor(store, decider, options);
          // Another API process writing the same streams: the batch's appends conflict and retry.
          const other = new WalletCommandExecutor(store, decider, options);
          await s.waitFor(createCustomers(executor));
          const handler = new CreateLedgerEntriesBatchHandler(executor, new CommandRunner(executor, recordingReadYourWrites(), config), config, decider);
          const otherHandler = new CreateLedgerEntriesBatchHandler(other, new CommandRunner(other, recordingReadYourWrites(), config), config, decider);

          const [outcomes] = await s.waitFor(
            Promise.all([
              handler.execute(new CreateLedgerEntriesBatchCommand(actor, toEntries(ops, 0))),
              racing.length > 0 ? otherHandler.execute(new CreateLedgerEntriesBatchCommand(actor, toEntries(racing, 1))) : Promise.resolve([]),
            ]),
          );

          for (const customerId of CUSTOMERS) {
            const committed = await committedEntries(memory, customerId);
            let balance = 0;
            for (const { type, data } of committed) {
              balance += type === 'WalletCredited' ? data.amountMinor : -data.amountMinor;
              expect(balance).toBeGreaterThanOrEqual(0);
              expect(data.balanceAfterMinor).toBe(balance);
            }
            const keys = committed.map((e) => e.data.idempotencyKey).filter((k) => k !== null);
            expect(new Set(keys).size).toBe(keys.length);
            // The batch's own unkeyed entries: committed in array order, each success exactly once, no refusal committed.
            const indexes = committed.map((e) => /^b0:(\d+)$/.exec(e.data.reason ?? '')?.[1]).filter((i) => i !== undefined).map(Number);
            expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
            const succeeded = ops.flatMap((op, i) => (op.customer === customerId && op.key === null && outcomes[i].ok ? [i] : []));
            expect(indexes).toEqual(succeeded);
            for (const [i, op] of ops.entries()) {
              if (op.customer !== customerId || op.key !== null || !outcomes[i].ok) continue;
              const event = committed.find((e) => e.data.reason === `b0:${i}`);
              expect((outcomes[i] as { wallet: { balanceMinor: number } }).wallet.balanceMinor).toBe(event?.data.balanceAfterMinor);
            }
          }
          for (const [i, outcome] of outcomes.entries()) {
            if (outcome.ok) continue;
            expect(outcome.error).toBeInstanceOf(DomainError);
            if (ops[i].customer === 'cus_other') expect((outcome.error as DomainError).code).toBe('CUSTOMER_NOT_FOUND');
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
