import fc from 'fast-check';
import type { CurrencySpec } from '../currency.js';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import type { CreateCustomer, RecordLedgerEntry, UpdateCustomer, WalletCommand } from './wallet.commands.js';
import {
  decide,
  evolve,
  evolveAll,
  initialWalletState,
  walletAfterEntry,
  type DeciderConfig,
  type WalletState,
} from './wallet.decider.js';
import type { LedgerEntryData, WalletEvent } from './wallet.events.js';

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const HOUR_MS = 3_600_000;
const RETENTION_MS = 24 * HOUR_MS;
const T0 = Date.parse('2024-03-01T00:00:00.000Z');
/** ISO timestamp `offsetMs` after T0. */
const at = (offsetMs: number): string => new Date(T0 + offsetMs).toISOString();

const CUSTOMER = 'cus_1';
const BUSINESS = 'biz_1';
const OTHER_BUSINESS = 'biz_2';
const MAX = Number.MAX_SAFE_INTEGER;

const SPECS: Record<string, CurrencySpec> = {
  USD: { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
  INR: { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 },
  EUR: { code: 'EUR', minorUnitDigits: 2, usdPerMajorUnit: 1.08 },
  JPY: { code: 'JPY', minorUnitDigits: 0, usdPerMajorUnit: 0.0067 },
};

function makeConfig(codes: readonly string[] = ['USD', 'INR'], idempotencyRetentionMs = RETENTION_MS): DeciderConfig {
  return { currencies: new Map(codes.map((code) => [code, SPECS[code]])), idempotencyRetentionMs };
}

const CONFIG = makeConfig();

// Commands -------------------------------------------------------------------

function createCmd(overrides: Partial<CreateCustomer> = {}): CreateCustomer {
  return {
    type: 'CreateCustomer',
    customerId: CUSTOMER,
    businessId: BUSINESS,
    email: 'ada@example.com',
    name: 'Ada',
    phoneNumber: '+15550100',
    metadata: { tier: 'gold' },
    now: at(0),
    ...overrides,
  };
}

function updateCmd(overrides: Partial<UpdateCustomer> = {}): UpdateCustomer {
  return { type: 'UpdateCustomer', customerId: CUSTOMER, businessId: BUSINESS, now: at(HOUR_MS), ...overrides };
}

let entrySeq = 0;
function entryCmd(overrides: Partial<RecordLedgerEntry> = {}): RecordLedgerEntry {
  entrySeq += 1;
  return {
    type: 'RecordLedgerEntry',
    customerId: CUSTOMER,
    businessId: BUSINESS,
    entryId: `ent_${entrySeq}`,
    direction: 'credit',
    currency: 'USD',
    amountMinor: 100,
    reason: null,
    idempotencyKey: null,
    now: at(60_000),
    ...overrides,
  };
}
const credit = (amountMinor: number, overrides: Partial<RecordLedgerEntry> = {}) =>
  entryCmd({ direction: 'credit', amountMinor, ...overrides });
const debit = (amountMinor: number, overrides: Partial<RecordLedgerEntry> = {}) =>
  entryCmd({ direction: 'debit', amountMinor, ...overrides });

// Events ---------------------------------------------------------------------

function customerCreated(overrides: Partial<Extract<WalletEvent, { type: 'CustomerCreated' }>['data']> = {}): WalletEvent {
  return {
    type: 'CustomerCreated',
    data: {
      customerId: CUSTOMER,
      businessId: BUSINESS,
      email: 'ada@example.com',
      name: 'Ada',
      phoneNumber: '+15550100',
      metadata: { tier: 'gold' },
      createdAt: at(0),
      ...overrides,
    },
  };
}

function walletOpened(currency: string, openedAt = at(0)): WalletEvent {
  return { type: 'WalletOpened', data: { customerId: CUSTOMER, currency, openedAt } };
}

/** The events CreateCustomer emits with the default config. */
const customerWithWallets = (codes: readonly string[] = ['USD', 'INR']): WalletEvent[] => [
  customerCreated(),
  ...codes.map((code) => walletOpened(code)),
];

function entryData(
  overrides: Partial<LedgerEntryData> & Pick<LedgerEntryData, 'amountMinor' | 'balanceAfterMinor'>,
): LedgerEntryData {
  return {
    customerId: CUSTOMER,
    businessId: BUSINESS,
    entryId: 'ent_given',
    currency: 'USD',
    reason: null,
    idempotencyKey: null,
    occurredAt: at(1000),
    ...overrides,
  };
}
const credited = (amountMinor: number, balanceAfterMinor: number, overrides: Partial<LedgerEntryData> = {}): WalletEvent => ({
  type: 'WalletCredited',
  data: entryData({ amountMinor, balanceAfterMinor, ...overrides }),
});
const debited = (amountMinor: number, balanceAfterMinor: number, overrides: Partial<LedgerEntryData> = {}): WalletEvent => ({
  type: 'WalletDebited',
  data: entryData({ amountMinor, balanceAfterMinor, ...overrides }),
});

// Given / when / then --------------------------------------------------------

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the command to be refused, but it was accepted');
}

function expectDomainError(fn: () => unknown, code: DomainErrorCode, details?: Record<string, unknown>): DomainError {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(DomainError);
  const domainError = error as DomainError;
  expect(domainError.code).toBe(code);
  if (details !== undefined) expect(domainError.details).toEqual(details);
  return domainError;
}

/** given(events) -> when(command) -> then(events) | thenRejects(code). */
function given(events: readonly WalletEvent[], config: DeciderConfig = CONFIG) {
  const state = evolveAll(initialWalletState(), events, config);
  return {
    state,
    when(command: WalletCommand) {
      const run = () => decide(command, state, config);
      return {
        then(expected: readonly WalletEvent[]): WalletEvent[] {
          const events = run();
          expect(events).toStrictEqual(expected);
          return events;
        },
        thenRejects(code: DomainErrorCode, details?: Record<string, unknown>): DomainError {
          return expectDomainError(run, code, details);
        },
      };
    },
  };
}

/** Decides and, on success, evolves: one step along a single line of states. */
function step(state: WalletState, command: WalletCommand, config: DeciderConfig = CONFIG) {
  const events = decide(command, state, config);
  return { events, state: evolveAll(state, events, config) };
}

/** Runs commands in order from the initial state, threading the state. */
function run(commands: readonly WalletCommand[], config: DeciderConfig = CONFIG): WalletState {
  return commands.reduce((state, command) => step(state, command, config).state, initialWalletState());
}

const balance = (state: WalletState, currency = 'USD') => state.wallets.get(currency)?.balanceMinor;

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('wallet decider', () => {
  it('answers a replay after its currency left the configuration as the original did', () => {
    const original = credit(500, { currency: 'INR', idempotencyKey: 'k-inr' });
    const state = run([createCmd(), original]);
    const usdOnly = makeConfig(['USD']);
    expect(decide({ ...original, now: at(120_000) }, state, usdOnly)).toEqual([]);
    expect(() => decide(credit(1, { currency: 'INR' }), state, usdOnly)).toThrow(DomainError);
  });

  describe('CreateCustomer', () => {
    it('emits CustomerCreated and one WalletOpened per configured currency', () => {
      given([])
        .when(createCmd())
        .then([customerCreated(), walletOpened('USD'), walletOpened('INR')]);
    });

    it('opens wallets in configuration order, not alphabetical order', () => {
      const config = makeConfig(['JPY', 'USD', 'EUR', 'INR']);
      const events = given([], config)
        .when(createCmd())
        .then([customerCreated(), walletOpened('JPY'), walletOpened('USD'), walletOpened('EUR'), walletOpened('INR')]);
      expect(events.map((e) => e.type)).toEqual([
        'CustomerCreated',
        'WalletOpened',
        'WalletOpened',
        'WalletOpened',
        'WalletOpened',
      ]);
    });

    it('copies every profile field and stamps createdAt / openedAt with now', () => {
      const command = createCmd({ phoneNumber: null, metadata: {}, now: at(5000) });
      given([])
        .when(command)
        .then([
          customerCreated({ phoneNumber: null, metadata: {}, createdAt: at(5000) }),
          walletOpened('USD', at(5000)),
          walletOpened('INR', at(5000)),
        ]);
    });

    it('evolves into a customer with zero-balance wallets', () => {
      const state = run([createCmd()]);
      expect(state.version).toBe(3);
      expect(state.customer).toEqual({
        customerId: CUSTOMER,
        businessId: BUSINESS,
        email: 'ada@example.com',
        name: 'Ada',
        phoneNumber: '+15550100',
        metadata: { tier: 'gold' },
        createdAt: at(0),
      });
      expect([...state.wallets.values()]).toEqual([
        { currency: 'USD', balanceMinor: 0, openedAt: at(0), updatedAt: at(0) },
        { currency: 'INR', balanceMinor: 0, openedAt: at(0), updatedAt: at(0) },
      ]);
      expect(state.idempotency.size).toBe(0);
    });

    it('refuses to create the same customer twice', () => {
      given(customerWithWallets()).when(createCmd()).thenRejects('CUSTOMER_ALREADY_EXISTS');
    });

    it('refuses to create the customer twice even for another business', () => {
      given(customerWithWallets())
        .when(createCmd({ businessId: OTHER_BUSINESS }))
        .thenRejects('CUSTOMER_ALREADY_EXISTS');
    });
  });

  describe('UpdateCustomer', () => {
    const history = customerWithWallets();

    it('emits only the fields that changed', () => {
      given(history)
        .when(updateCmd({ name: 'Ada Lovelace', email: 'ada@example.com', phoneNumber: '+15550100', metadata: { tier: 'gold' } }))
        .then([{ type: 'CustomerUpdated', data: { customerId: CUSTOMER, name: 'Ada Lovelace', updatedAt: at(HOUR_MS) } }]);
    });

    it('emits every changed field together', () => {
      given(history)
        .when(updateCmd({ name: 'B', email: 'b@example.com', phoneNumber: '+15550199', metadata: { tier: 'silver' } }))
        .then([
          {
            type: 'CustomerUpdated',
            data: {
              customerId: CUSTOMER,
              email: 'b@example.com',
              name: 'B',
              phoneNumber: '+15550199',
              metadata: { tier: 'silver' },
              updatedAt: at(HOUR_MS),
            },
          },
        ]);
    });

    it('emits nothing when no field changes', () => {
      given(history)
        .when(updateCmd({ name: 'Ada', email: 'ada@example.com', phoneNumber: '+15550100', metadata: { tier: 'gold' } }))
        .then([]);
    });

    it('emits nothing when no field is given', () => {
      given(history).when(updateCmd()).then([]);
    });

    it('compares metadata by content, not identity', () => {
      given(history)
        .when(updateCmd({ metadata: { tier: 'gold' } }))
        .then([]);
    });

    it.each([
      ['a changed value', { tier: 'silver' }],
      ['an added key', { tier: 'gold', region: 'eu' }],
      ['a removed key', {}],
      ['a renamed key', { level: 'gold' }],
    ])('treats metadata with %s as a change', (_label, metadata: Record<string, string>) => {
      given(history)
        .when(updateCmd({ metadata }))
        .then([{ type: 'CustomerUpdated', data: { customerId: CUSTOMER, metadata, updatedAt: at(HOUR_MS) } }]);
    });

    it('clears the phone number with null', () => {
      const events = given(history)
        .when(updateCmd({ phoneNumber: null }))
        .then([{ type: 'CustomerUpdated', data: { customerId: CUSTOMER, phoneNumber: null, updatedAt: at(HOUR_MS) } }]);
      const state = evolveAll(evolveAll(initialWalletState(), history, CONFIG), events, CONFIG);
      expect(state.customer?.phoneNumber).toBeNull();
      expect(state.customer?.name).toBe('Ada');
    });

    it('treats null as no change when the phone number is already null', () => {
      given([customerCreated({ phoneNumber: null })])
        .when(updateCmd({ phoneNumber: null }))
        .then([]);
    });

    it('sets a phone number on a customer that had none', () => {
      given([customerCreated({ phoneNumber: null })])
        .when(updateCmd({ phoneNumber: '+15550111' }))
        .then([{ type: 'CustomerUpdated', data: { customerId: CUSTOMER, phoneNumber: '+15550111', updatedAt: at(HOUR_MS) } }]);
    });

    it('evolves: applies the changes and keeps everything else', () => {
      const state = run([createCmd(), updateCmd({ email: 'new@example.com', metadata: {} })]);
      expect(state.customer).toEqual({
        customerId: CUSTOMER,
        businessId: BUSINESS,
        email: 'new@example.com',
        name: 'Ada',
        phoneNumber: '+15550100',
        metadata: {},
        createdAt: at(0),
      });
      expect(state.version).toBe(4);
    });

    it("reports another business's customer as not found", () => {
      given(history)
        .when(updateCmd({ businessId: OTHER_BUSINESS, name: 'Mallory' }))
        .thenRejects('CUSTOMER_NOT_FOUND');
    });

    it('reports a missing customer as not found', () => {
      given([])
        .when(updateCmd({ name: 'Ghost' }))
        .thenRejects('CUSTOMER_NOT_FOUND');
    });

    it('reports a missing customer as not found even when nothing would change', () => {
      given([]).when(updateCmd()).thenRejects('CUSTOMER_NOT_FOUND');
    });
  });

  describe('RecordLedgerEntry', () => {
    const history = customerWithWallets();

    it('credits: emits WalletCredited with every field and the new balance', () => {
      given([...history, credited(250, 250)])
        .when(credit(100, { entryId: 'ent_c', reason: 'top-up', idempotencyKey: 'idem-1', now: at(90_000) }))
        .then([
          {
            type: 'WalletCredited',
            data: {
              customerId: CUSTOMER,
              businessId: BUSINESS,
              entryId: 'ent_c',
              currency: 'USD',
              amountMinor: 100,
              balanceAfterMinor: 350,
              reason: 'top-up',
              idempotencyKey: 'idem-1',
              occurredAt: at(90_000),
            },
          },
        ]);
    });

    it('debits: emits WalletDebited with every field and the new balance', () => {
      given([...history, credited(1000, 1000)])
        .when(debit(300, { entryId: 'ent_d', reason: 'purchase', idempotencyKey: null, now: at(120_000) }))
        .then([
          {
            type: 'WalletDebited',
            data: {
              customerId: CUSTOMER,
              businessId: BUSINESS,
              entryId: 'ent_d',
              currency: 'USD',
              amountMinor: 300,
              balanceAfterMinor: 700,
              reason: 'purchase',
              idempotencyKey: null,
              occurredAt: at(120_000),
            },
          },
        ]);
    });

    it('evolves an entry into the wallet balance and updatedAt, keeping openedAt', () => {
      const state = run([createCmd(), credit(500, { now: at(10_000) }), debit(200, { now: at(20_000) })]);
      expect(state.wallets.get('USD')).toEqual({ currency: 'USD', balanceMinor: 300, openedAt: at(0), updatedAt: at(20_000) });
      expect(state.wallets.get('INR')).toEqual({ currency: 'INR', balanceMinor: 0, openedAt: at(0), updatedAt: at(0) });
    });

    it('allows a debit of exactly the balance, leaving zero', () => {
      const [event] = given([...history, credited(500, 500)])
        .when(debit(500))
        .then([expect.objectContaining({ type: 'WalletDebited' }) as WalletEvent]);
      expect((event.data as LedgerEntryData).balanceAfterMinor).toBe(0);
    });

    it('refuses a debit above the balance with the balance, amount and currency', () => {
      given([...history, credited(500, 500)])
        .when(debit(501))
        .thenRejects('WALLET.INSUFFICIENT_BALANCE', { balance: 500, amount: 501, currency: 'USD' });
    });

    it('refuses any debit from an empty wallet', () => {
      given(history).when(debit(1)).thenRejects('WALLET.INSUFFICIENT_BALANCE', { balance: 0, amount: 1, currency: 'USD' });
    });

    it.each([
      ['zero', 0],
      ['negative', -1],
      ['large negative', -100_000],
      ['fractional', 1.5],
      ['tiny fraction', 0.01],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['MAX_SAFE_INTEGER + 1', MAX + 1],
      ['1e300', 1e300],
    ])('refuses a %s amount as WALLET.INVALID_AMOUNT (credit and debit)', (_label, amount) => {
      const g = given([...history, credited(1000, 1000)]);
      g.when(credit(amount)).thenRejects('WALLET.INVALID_AMOUNT');
      g.when(debit(amount)).thenRejects('WALLET.INVALID_AMOUNT');
    });

    it('accepts the largest safe integer as a credit to an empty wallet', () => {
      given(history)
        .when(credit(MAX))
        .then([
          expect.objectContaining({
            type: 'WalletCredited',
            data: expect.objectContaining({ balanceAfterMinor: MAX }),
          }) as WalletEvent,
        ]);
    });

    it('accepts a credit that lands exactly on MAX_SAFE_INTEGER', () => {
      given([...history, credited(MAX - 10, MAX - 10)])
        .when(credit(10))
        .then([
          expect.objectContaining({ data: expect.objectContaining({ amountMinor: 10, balanceAfterMinor: MAX }) }) as WalletEvent,
        ]);
    });

    it('refuses a credit that would pass MAX_SAFE_INTEGER with WALLET.BALANCE_OVERFLOW', () => {
      given([...history, credited(MAX - 10, MAX - 10)])
        .when(credit(11))
        .thenRejects('WALLET.BALANCE_OVERFLOW', { balance: MAX - 10, max_balance: MAX });
    });

    it('refuses even a 1-unit credit to a wallet at MAX_SAFE_INTEGER, but still allows debits', () => {
      const g = given([...history, credited(MAX, MAX)]);
      g.when(credit(1)).thenRejects('WALLET.BALANCE_OVERFLOW', { balance: MAX, max_balance: MAX });
      g.when(credit(MAX)).thenRejects('WALLET.BALANCE_OVERFLOW');
      g.when(debit(MAX)).then([
        expect.objectContaining({ data: expect.objectContaining({ balanceAfterMinor: 0 }) }) as WalletEvent,
      ]);
    });

    describe('the total across currencies stays reportable (total_balance_usd ≤ 2^53 − 1 cents)', () => {
      // INR converts at 0.012: 1 paisa is 0.012 cents.
      const usdAt = (balance: number) => credited(balance, balance);
      const inrAt = (balance: number) => credited(balance, balance, { currency: 'INR', entryId: 'ent_inr' });

      it('refuses a credit that would push the converted total past 2^53 − 1, with its own code', () => {
        // Both at the cap would be 9115285645797883 cents: the second one is refused.
        given([...history, usdAt(MAX)])
          .when(credit(MAX, { currency: 'INR' }))
          .thenRejects('WALLET.TOTAL_BALANCE_OVERFLOW', { currency: 'INR', max_total_balance_usd: MAX });
        given([...history, inrAt(MAX)])
          .when(credit(MAX, { currency: 'USD' }))
          .thenRejects('WALLET.TOTAL_BALANCE_OVERFLOW', { currency: 'USD', max_total_balance_usd: MAX });
      });

      it('accepts a credit whose rounded total lands exactly on 2^53 − 1, and refuses one more paisa that rounds past it', () => {
        // 1041 paise are 12.492 cents (rounds to 12); 1042 are 12.504 (rounds to 13).
        const g = given([...history, usdAt(MAX - 12), inrAt(1000)]);
        g.when(credit(41, { currency: 'INR' })).then([
          expect.objectContaining({ data: expect.objectContaining({ currency: 'INR', balanceAfterMinor: 1041 }) }) as WalletEvent,
        ]);
        g.when(credit(42, { currency: 'INR' })).thenRejects('WALLET.TOTAL_BALANCE_OVERFLOW');
        g.when(credit(1, { currency: 'USD' })).thenRejects('WALLET.TOTAL_BALANCE_OVERFLOW');
      });

      it('never refuses a debit for the total, even above the bound (after a rate change)', () => {
        const raisedRates = { ...CONFIG, currencies: new Map([...CONFIG.currencies].map(([c, s]) => [c, c === 'INR' ? { ...s, usdPerMajorUnit: 2 } : s])) };
        given([...history, usdAt(MAX), inrAt(MAX)], raisedRates)
          .when(debit(1, { currency: 'INR' }))
          .then([expect.objectContaining({ type: 'WalletDebited' }) as WalletEvent]);
      });

      it('reports the per-wallet overflow first when a credit breaks both bounds', () => {
        given([...history, usdAt(MAX), inrAt(MAX)]).when(credit(1)).thenRejects('WALLET.BALANCE_OVERFLOW');
      });
    });

    it('refuses an unsupported currency and lists the supported ones', () => {
      given(history)
        .when(credit(100, { currency: 'EUR' }))
        .thenRejects('WALLET.UNSUPPORTED_CURRENCY', { supported: ['USD', 'INR'] });
    });

    it('refuses a currency that was removed from the configuration, even if its wallet exists', () => {
      given([...history, credited(100, 100, { currency: 'INR' })], makeConfig(['USD']))
        .when(debit(50, { currency: 'INR' }))
        .thenRejects('WALLET.UNSUPPORTED_CURRENCY', { supported: ['USD'] });
    });

    it("reports another business's customer as not found", () => {
      given([...history, credited(100, 100)])
        .when(debit(50, { businessId: OTHER_BUSINESS }))
        .thenRejects('CUSTOMER_NOT_FOUND');
    });

    it('reports a missing customer as not found', () => {
      given([]).when(credit(100)).thenRejects('CUSTOMER_NOT_FOUND');
    });

    it('checks ownership before anything else, so another tenant learns nothing', () => {
      const g = given(history);
      g.when(credit(100, { businessId: OTHER_BUSINESS, currency: 'XXX' })).thenRejects('CUSTOMER_NOT_FOUND');
      g.when(credit(-1, { businessId: OTHER_BUSINESS })).thenRejects('CUSTOMER_NOT_FOUND');
      g.when(debit(1_000_000, { businessId: OTHER_BUSINESS })).thenRejects('CUSTOMER_NOT_FOUND');
    });

    it('keeps currencies independent', () => {
      let state = run([createCmd(), credit(500, { currency: 'USD' })]);
      expectDomainError(() => decide(debit(1, { currency: 'INR' }), state, CONFIG), 'WALLET.INSUFFICIENT_BALANCE', {
        balance: 0,
        amount: 1,
        currency: 'INR',
      });
      state = step(state, credit(200, { currency: 'INR' })).state;
      state = step(state, debit(150, { currency: 'INR' })).state;
      expect(balance(state, 'USD')).toBe(500);
      expect(balance(state, 'INR')).toBe(50);
      expectDomainError(() => decide(debit(51, { currency: 'INR' }), state, CONFIG), 'WALLET.INSUFFICIENT_BALANCE');
      expect(step(state, debit(500, { currency: 'USD' })).events).toHaveLength(1);
    });

    describe('a currency added to the configuration after the customer was created', () => {
      const before = makeConfig(['USD']);
      const after = makeConfig(['USD', 'EUR']);
      const createdEarly = [customerCreated(), walletOpened('USD')];

      it('opens on first use: WalletOpened, then the entry', () => {
        given(createdEarly, after)
          .when(credit(700, { currency: 'EUR', entryId: 'ent_eur', now: at(HOUR_MS) }))
          .then([
            { type: 'WalletOpened', data: { customerId: CUSTOMER, currency: 'EUR', openedAt: at(HOUR_MS) } },
            {
              type: 'WalletCredited',
              data: {
                customerId: CUSTOMER,
                businessId: BUSINESS,
                entryId: 'ent_eur',
                currency: 'EUR',
                amountMinor: 700,
                balanceAfterMinor: 700,
                reason: null,
                idempotencyKey: null,
                occurredAt: at(HOUR_MS),
              },
            },
          ]);
      });

      it('evolves into a new wallet, after which entries no longer reopen it', () => {
        let state = run([createCmd()], before);
        expect([...state.wallets.keys()]).toEqual(['USD']);
        const first = step(state, credit(700, { currency: 'EUR', now: at(HOUR_MS) }), after);
        state = first.state;
        expect(state.wallets.get('EUR')).toEqual({
          currency: 'EUR',
          balanceMinor: 700,
          openedAt: at(HOUR_MS),
          updatedAt: at(HOUR_MS),
        });
        const second = step(state, debit(200, { currency: 'EUR', now: at(2 * HOUR_MS) }), after);
        expect(second.events.map((e) => e.type)).toEqual(['WalletDebited']);
        expect(second.state.wallets.get('EUR')).toEqual({
          currency: 'EUR',
          balanceMinor: 500,
          openedAt: at(HOUR_MS),
          updatedAt: at(2 * HOUR_MS),
        });
      });

      it('refuses a first-use debit as insufficient and opens nothing', () => {
        given(createdEarly, after)
          .when(debit(1, { currency: 'EUR' }))
          .thenRejects('WALLET.INSUFFICIENT_BALANCE', { balance: 0, amount: 1, currency: 'EUR' });
      });
    });
  });

  describe('idempotency', () => {
    const keyed = (key: string, overrides: Partial<RecordLedgerEntry> = {}) =>
      credit(500, { idempotencyKey: key, reason: 'top-up', now: at(10_000), ...overrides });

    it('answers a replay with the same payload with no events', () => {
      const state = run([createCmd(), keyed('k1')]);
      expect(decide(keyed('k1', { now: at(20_000), entryId: 'ent_other' }), state, CONFIG)).toEqual([]);
    });

    it('answers a replay of a debit with no events and does not debit twice', () => {
      const original = debit(200, { idempotencyKey: 'k-debit', now: at(20_000) });
      const state = run([createCmd(), credit(300, { now: at(10_000) }), original]);
      expect(balance(state)).toBe(100);
      // A second debit of 200 would be refused, but the replay is simply answered.
      expect(decide({ ...original, entryId: 'ent_replay', now: at(30_000) }, state, CONFIG)).toEqual([]);
    });

    it('walletAfterEntry answers a replay with the wallet as it stood right after the original entry', () => {
      const original = keyed('k1', { now: at(10_000) });
      const state = run([
        createCmd(),
        credit(100, { now: at(5_000) }),
        original,
        credit(1_000, { now: at(20_000) }),
        debit(50, { now: at(30_000), idempotencyKey: 'k2' }),
      ]);
      expect(balance(state)).toBe(1_550);
      const replay = { ...original, entryId: 'ent_replay', now: at(40_000) };
      expect(decide(replay, state, CONFIG)).toEqual([]);
      expect(walletAfterEntry(replay, state, CONFIG)).toEqual({
        currency: 'USD',
        balanceMinor: 600,
        openedAt: at(0),
        updatedAt: at(10_000),
      });
    });

    it('walletAfterEntry answers a fresh entry with the wallet after it', () => {
      const command = keyed('fresh', { now: at(10_000) });
      const state = run([createCmd(), command]);
      expect(walletAfterEntry(command, state, CONFIG)).toEqual({
        currency: 'USD',
        balanceMinor: 500,
        openedAt: at(0),
        updatedAt: at(10_000),
      });
      const unkeyed = credit(10, { now: at(20_000) });
      const after = step(state, unkeyed).state;
      expect(walletAfterEntry(unkeyed, after, CONFIG)).toEqual(after.wallets.get('USD'));
    });

    it('walletAfterEntry throws when the wallet does not exist', () => {
      const state = run([createCmd()]);
      expect(() => walletAfterEntry(credit(1, { currency: 'EUR' }), state, CONFIG)).toThrow(/EUR/);
    });

    it.each<[string, Partial<RecordLedgerEntry>]>([
      ['amount', { amountMinor: 501 }],
      ['currency', { currency: 'INR' }],
      ['direction', { direction: 'debit' }],
      ['reason', { reason: 'something else' }],
      ['reason (null vs text)', { reason: null }],
    ])('refuses the same key with a different %s as IDEMPOTENCY_KEY_REUSED', (_label, change) => {
      const state = run([createCmd(), keyed('k1')]);
      expectDomainError(() => decide(keyed('k1', { now: at(20_000), ...change }), state, CONFIG), 'IDEMPOTENCY_KEY_REUSED', {
        idempotency_key: 'k1',
      });
    });

    it('does not care about entryId or time when matching a replay', () => {
      const state = run([createCmd(), keyed('k1')]);
      expect(decide(keyed('k1', { entryId: 'completely-different', now: at(HOUR_MS) }), state, CONFIG)).toEqual([]);
    });

    it('keeps keys per stream: the same key on another customer is a new entry', () => {
      run([createCmd(), keyed('shared-key')]);
      const other = run([createCmd({ customerId: 'cus_2' })]);
      const events = decide(keyed('shared-key', { customerId: 'cus_2' }), other, CONFIG);
      expect(events.map((e) => e.type)).toEqual(['WalletCredited']);
    });

    it('unkeyed entries are never deduplicated', () => {
      const command = credit(100, { idempotencyKey: null, now: at(10_000) });
      const state = run([createCmd(), command]);
      expect(decide(command, state, CONFIG)).toHaveLength(1);
      expect(state.idempotency.size).toBe(0);
    });

    it('still remembers a key at exactly the edge of the retention window', () => {
      const state = run([createCmd(), keyed('k1', { now: at(10_000) })]);
      expect(decide(keyed('k1', { now: at(10_000 + RETENTION_MS) }), state, CONFIG)).toEqual([]);
      expectDomainError(
        () => decide(keyed('k1', { amountMinor: 1, now: at(10_000 + RETENTION_MS) }), state, CONFIG),
        'IDEMPOTENCY_KEY_REUSED',
      );
    });

    it('accepts the same key as a new entry once the retention window has passed', () => {
      const state = run([createCmd(), keyed('k1', { now: at(10_000) })]);
      const later = at(10_000 + RETENTION_MS + 1);
      const { events, state: after } = step(state, keyed('k1', { now: later }));
      expect(events).toEqual([
        expect.objectContaining({
          type: 'WalletCredited',
          data: expect.objectContaining({ balanceAfterMinor: 1000, occurredAt: later }),
        }),
      ]);
      // The key now refers to the new entry.
      const replay = keyed('k1', { now: at(10_000 + RETENTION_MS + 2) });
      expect(decide(replay, after, CONFIG)).toEqual([]);
      expect(walletAfterEntry(replay, after, CONFIG)).toMatchObject({ balanceMinor: 1000, updatedAt: later });
    });

    it('accepts an expired key with a different payload instead of calling it reused', () => {
      const state = run([createCmd(), keyed('k1', { now: at(10_000) })]);
      const events = decide(keyed('k1', { amountMinor: 7, currency: 'INR', now: at(10_000 + RETENTION_MS + 1) }), state, CONFIG);
      expect(events).toEqual([
        expect.objectContaining({ type: 'WalletCredited', data: expect.objectContaining({ currency: 'INR', amountMinor: 7 }) }),
      ]);
    });

    it('honours the configured retention window', () => {
      const short = makeConfig(['USD', 'INR'], 1000);
      const state = run([createCmd(), keyed('k1', { now: at(10_000) })], short);
      expect(decide(keyed('k1', { now: at(11_000) }), state, short)).toEqual([]);
      expect(decide(keyed('k1', { now: at(11_001) }), state, short)).toHaveLength(1);
    });

    it('frees records older than the window from the index when a later entry is applied', () => {
      let state = run([
        createCmd(),
        keyed('a', { now: at(0) }),
        keyed('b', { now: at(HOUR_MS) }),
        keyed('c', { now: at(2 * HOUR_MS) }),
      ]);
      expect(state.idempotency.size).toBe(3);

      // Still inside the window of all three: nothing is freed.
      state = step(state, credit(1, { now: at(RETENTION_MS) })).state;
      expect(state.idempotency.size).toBe(3);

      // Just past a's window: a is freed.
      state = step(state, credit(1, { now: at(RETENTION_MS + 1) })).state;
      expect(state.idempotency.size).toBe(2);
      expect(state.idempotency.find('a', state.version, Number.NEGATIVE_INFINITY)).toBeUndefined();
      expect(state.idempotency.find('b', state.version, Number.NEGATIVE_INFINITY)).toBeDefined();

      // A keyed entry far later frees b and c and adds itself.
      state = step(state, keyed('d', { now: at(10 * RETENTION_MS) })).state;
      expect(state.idempotency.size).toBe(1);
      expect(state.idempotency.find('d', state.version, Number.NEGATIVE_INFINITY)).toMatchObject({ key: 'd', amountMinor: 500 });
    });

    it('records what a replay needs to answer', () => {
      const state = run([
        createCmd(),
        credit(40, { now: at(1) }),
        debit(30, { idempotencyKey: 'k', reason: 'r', entryId: 'ent_k', now: at(2_000) }),
      ]);
      expect(state.idempotency.find('k', state.version, 0)).toEqual({
        key: 'k',
        direction: 'debit',
        currency: 'USD',
        amountMinor: 30,
        reason: 'r',
        entryId: 'ent_k',
        balanceAfterMinor: 10,
        occurredAt: at(2_000),
        occurredAtMs: T0 + 2_000,
        version: 5,
      });
    });

    describe('the shared index visibility rule', () => {
      it('a state captured earlier does not see keys added by later evolves', () => {
        const earlier = run([createCmd()]);
        const later = evolve(earlier, credited(500, 500, { idempotencyKey: 'k1', occurredAt: at(10_000) }), CONFIG);

        // The index is shared along the line of states ...
        expect(later.idempotency).toBe(earlier.idempotency);
        // ... but each state only sees records at or below its own version.
        expect(earlier.idempotency.find('k1', earlier.version, Number.NEGATIVE_INFINITY)).toBeUndefined();
        expect(later.idempotency.find('k1', later.version, Number.NEGATIVE_INFINITY)).toMatchObject({
          key: 'k1',
          version: later.version,
        });
      });

      it('deciding on the earlier state treats the key as new', () => {
        const earlier = run([createCmd()]);
        const command = keyed('k1', { now: at(10_000) });
        const { state: later } = step(earlier, command);
        expect(decide(command, later, CONFIG)).toEqual([]);
        expect(decide(command, earlier, CONFIG)).toEqual([expect.objectContaining({ type: 'WalletCredited' })]);
        expect(balance(earlier)).toBe(0);
      });
    });
  });

  describe('evolve / evolveAll', () => {
    const events: WalletEvent[] = [
      customerCreated(),
      walletOpened('USD'),
      credited(100, 100, { occurredAt: at(1000) }),
      debited(40, 60, { occurredAt: at(2000) }),
      { type: 'CustomerUpdated', data: { customerId: CUSTOMER, name: 'Ada L', updatedAt: at(3000) } },
    ];

    it('increments the version by one per event, whatever its type', () => {
      let state = initialWalletState();
      expect(state.version).toBe(0);
      events.forEach((event, index) => {
        state = evolve(state, event, CONFIG);
        expect(state.version).toBe(index + 1);
      });
    });

    it('evolveAll folds evolve over the events', () => {
      const folded = evolveAll(initialWalletState(), events, CONFIG);
      const stepwise = events.reduce((state, event) => evolve(state, event, CONFIG), initialWalletState());
      expect(folded.version).toBe(5);
      expect(folded.customer).toEqual(stepwise.customer);
      expect([...folded.wallets.entries()]).toEqual([...stepwise.wallets.entries()]);
      expect(folded.customer?.name).toBe('Ada L');
      expect(balance(folded)).toBe(60);
    });

    it('evolveAll of no events returns the state unchanged', () => {
      const state = run([createCmd()]);
      expect(evolveAll(state, [], CONFIG)).toBe(state);
    });

    it('evolveAll accepts any iterable', () => {
      function* gen() {
        yield* events;
      }
      expect(evolveAll(initialWalletState(), gen(), CONFIG).version).toBe(events.length);
    });

    it("does not mutate the previous state's customer or wallets", () => {
      const before = run([createCmd(), credit(100, { now: at(1000) })]);
      const walletsBefore = before.wallets;
      const customerBefore = before.customer;
      const after = evolveAll(
        before,
        [
          debited(30, 70, { occurredAt: at(2000) }),
          { type: 'CustomerUpdated', data: { customerId: CUSTOMER, name: 'Changed', updatedAt: at(3000) } },
        ],
        CONFIG,
      );
      expect(before.version).toBe(4);
      expect(before.wallets).toBe(walletsBefore);
      expect(balance(before)).toBe(100);
      expect(before.customer).toBe(customerBefore);
      expect(before.customer?.name).toBe('Ada');
      expect(after.version).toBe(6);
      expect(balance(after)).toBe(70);
      expect(after.customer?.name).toBe('Changed');
    });

    it('replaying the decided events reproduces the state', () => {
      const commands = [
        createCmd(),
        credit(100, { now: at(1000) }),
        credit(5, { currency: 'INR', now: at(2000) }),
        debit(99, { now: at(3000) }),
      ];
      const all: WalletEvent[] = [];
      let state = initialWalletState();
      for (const command of commands) {
        const result = step(state, command);
        all.push(...result.events);
        state = result.state;
      }
      const replayed = evolveAll(initialWalletState(), all, CONFIG);
      expect(replayed.version).toBe(state.version);
      expect([...replayed.wallets.entries()]).toEqual([...state.wallets.entries()]);
      expect(replayed.customer).toEqual(state.customer);
    });

    it('refuses to apply CustomerUpdated to a stream without a customer', () => {
      expect(() => evolve(initialWalletState(), events[4], CONFIG)).toThrow();
    });
  });

  describe('property: balances follow a plain model', () => {
    type Op =
      | { kind: 'entry'; direction: 'credit' | 'debit'; currency: 'USD' | 'INR'; amount: number; keyed: boolean }
      | { kind: 'replay'; pick: number };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('entry' as const),
          direction: fc.constantFrom('credit' as const, 'debit' as const),
          currency: fc.constantFrom('USD' as const, 'INR' as const),
          amount: fc.integer({ min: 1, max: 1000 }),
          keyed: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
    );

    it('refuses exactly the insufficient-balance cases and keeps balances equal to the model', () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
          const model = new Map<string, number>([
            ['USD', 0],
            ['INR', 0],
          ]);
          let state = run([createCmd()]);
          const history: WalletEvent[] = [...decide(createCmd(), initialWalletState(), CONFIG)];
          const acceptedKeyed: RecordLedgerEntry[] = [];

          ops.forEach((op, i) => {
            const now = at((i + 1) * 1000);
            if (op.kind === 'replay') {
              if (acceptedKeyed.length === 0) return;
              const original = acceptedKeyed[op.pick % acceptedKeyed.length];
              const replay = { ...original, entryId: `ent_replay_${i}`, now };
              expect(decide(replay, state, CONFIG)).toEqual([]);
              expect(walletAfterEntry(replay, state, CONFIG).currency).toBe(original.currency);
              return;
            }
            const command: RecordLedgerEntry = {
              type: 'RecordLedgerEntry',
              customerId: CUSTOMER,
              businessId: BUSINESS,
              entryId: `ent_${i}`,
              direction: op.direction,
              currency: op.currency,
              amountMinor: op.amount,
              reason: null,
              idempotencyKey: op.keyed ? `key_${i}` : null,
              now,
            };
            const before = model.get(op.currency)!;
            const modelRefuses = op.direction === 'debit' && op.amount > before;
            if (modelRefuses) {
              expectDomainError(() => decide(command, state, CONFIG), 'WALLET.INSUFFICIENT_BALANCE', {
                balance: before,
                amount: op.amount,
                currency: op.currency,
              });
            } else {
              const events = decide(command, state, CONFIG);
              const expectedAfter = op.direction === 'credit' ? before + op.amount : before - op.amount;
              expect(events).toHaveLength(1);
              expect(events[0].type).toBe(op.direction === 'credit' ? 'WalletCredited' : 'WalletDebited');
              expect((events[0].data as LedgerEntryData).balanceAfterMinor).toBe(expectedAfter);
              state = evolveAll(state, events, CONFIG);
              history.push(...events);
              model.set(op.currency, expectedAfter);
              if (op.keyed) acceptedKeyed.push(command);
            }
            for (const [currency, expected] of model) {
              expect(balance(state, currency)).toBe(expected);
              expect(balance(state, currency)).toBeGreaterThanOrEqual(0);
            }
          });

          // Loading the stream from scratch lands on the same state.
          const reloaded = evolveAll(initialWalletState(), history, CONFIG);
          expect(reloaded.version).toBe(state.version);
          for (const [currency, expected] of model) expect(balance(reloaded, currency)).toBe(expected);
        }),
        { numRuns: 200 },
      );
    });
  });
});
