import { TOTAL_USD_MINOR_MAX, totalUsdMinor, type CurrencySpec } from '../currency.js';
import { DomainError, assertNever } from '../domain-error.js';
import { IdempotencyIndex, type IdempotencyRecord } from './idempotency-index.js';
import type {
  CreateCustomer,
  EntryDirection,
  RecordLedgerEntry,
  UpdateCustomer,
  WalletCommand,
} from './wallet.commands.js';
import type { LedgerEntryData, Metadata, WalletEvent } from './wallet.events.js';

export interface DeciderConfig {
  readonly currencies: ReadonlyMap<string, CurrencySpec>;
  /** How long an idempotency key is remembered, measured from its entry's time. */
  readonly idempotencyRetentionMs: number;
}

export interface WalletBalance {
  readonly currency: string;
  readonly balanceMinor: number;
  readonly openedAt: string;
  readonly updatedAt: string;
}

export interface CustomerProfile {
  readonly customerId: string;
  readonly businessId: string;
  readonly email: string;
  readonly name: string;
  readonly phoneNumber: string | null;
  readonly metadata: Metadata;
  readonly createdAt: string;
}

export interface WalletState {
  /** Number of events applied; equals the stream's next revision. */
  readonly version: number;
  readonly customer: CustomerProfile | null;
  readonly wallets: ReadonlyMap<string, WalletBalance>;
  readonly idempotency: IdempotencyIndex;
}

/**
 * Version of the fold (`evolve` and the shape of `WalletState`). A stored snapshot of a state
 * is only trusted when it was written under this same version; otherwise the stream is folded
 * from its start. Bump it with every change to `evolve` or `WalletState` (what a state holds,
 * or how an event changes it): a snapshot from the old fold would otherwise stand in for a
 * state the new fold would never produce.
 */
export const WALLET_STATE_VERSION = 1;

export function initialWalletState(): WalletState {
  return { version: 0, customer: null, wallets: new Map(), idempotency: new IdempotencyIndex() };
}

export function decide(command: WalletCommand, state: WalletState, config: DeciderConfig): WalletEvent[] {
  switch (command.type) {
    case 'CreateCustomer':
      return decideCreate(command, state, config);
    case 'UpdateCustomer':
      return decideUpdate(command, state);
    case 'RecordLedgerEntry':
      return decideEntry(command, state, config);
    default:
      return assertNever(command, 'command');
  }
}

export function evolve(state: WalletState, event: WalletEvent, config: DeciderConfig): WalletState {
  const version = state.version + 1;
  switch (event.type) {
    case 'CustomerCreated':
      return { ...state, version, customer: { ...event.data } };
    case 'CustomerUpdated':
      return { ...state, version, customer: applyProfileChanges(requireProfile(state), event.data) };
    case 'WalletOpened': {
      const { currency, openedAt } = event.data;
      const wallet: WalletBalance = { currency, balanceMinor: 0, openedAt, updatedAt: openedAt };
      return { ...state, version, wallets: withWallet(state.wallets, wallet) };
    }
    case 'WalletCredited':
    case 'WalletDebited':
      return evolveEntry(state, version, event.type === 'WalletCredited' ? 'credit' : 'debit', event.data, config);
    default:
      return assertNever(event, 'event');
  }
}

/** Folds events onto a state; what a store does when it loads a stream. */
export function evolveAll(state: WalletState, events: Iterable<WalletEvent>, config: DeciderConfig): WalletState {
  let next = state;
  for (const event of events) next = evolve(next, event, config);
  return next;
}

/**
 * The wallet a ledger-entry command answers with: the wallet right after the
 * entry, or after the original entry when the command replays an idempotency key.
 */
export function walletAfterEntry(command: RecordLedgerEntry, state: WalletState, config: DeciderConfig): WalletBalance {
  const record = findLiveRecord(command, state, config);
  const wallet = state.wallets.get(command.currency);
  if (wallet === undefined) throw new Error(`wallet ${command.currency} missing after entry`);
  if (record === undefined) return wallet;
  return { ...wallet, balanceMinor: record.balanceAfterMinor, updatedAt: record.occurredAt };
}

function decideCreate(command: CreateCustomer, state: WalletState, config: DeciderConfig): WalletEvent[] {
  if (state.customer !== null) {
    throw new DomainError('CUSTOMER_ALREADY_EXISTS', `Customer ${command.customerId} already exists.`);
  }
  const created: WalletEvent = {
    type: 'CustomerCreated',
    data: {
      customerId: command.customerId,
      businessId: command.businessId,
      email: command.email,
      name: command.name,
      phoneNumber: command.phoneNumber,
      metadata: command.metadata,
      createdAt: command.now,
    },
  };
  const opened = [...config.currencies.keys()].map((currency) => walletOpened(command.customerId, currency, command.now));
  return [created, ...opened];
}

function decideUpdate(command: UpdateCustomer, state: WalletState): WalletEvent[] {
  const profile = requireOwnedProfile(state, command.customerId, command.businessId);
  const changes: { -readonly [K in keyof UpdateCustomer]?: UpdateCustomer[K] } = {};
  if (command.email !== undefined && command.email !== profile.email) changes.email = command.email;
  if (command.name !== undefined && command.name !== profile.name) changes.name = command.name;
  if (command.phoneNumber !== undefined && command.phoneNumber !== profile.phoneNumber) {
    changes.phoneNumber = command.phoneNumber;
  }
  if (command.metadata !== undefined && !sameMetadata(command.metadata, profile.metadata)) {
    changes.metadata = command.metadata;
  }
  if (Object.keys(changes).length === 0) return [];
  return [{ type: 'CustomerUpdated', data: { customerId: command.customerId, ...changes, updatedAt: command.now } }];
}

function decideEntry(command: RecordLedgerEntry, state: WalletState, config: DeciderConfig): WalletEvent[] {
  requireOwnedProfile(state, command.customerId, command.businessId);
  // A replay answers as the original did, even if the currency has since left the configuration.
  const record = findLiveRecord(command, state, config);
  if (record !== undefined) {
    if (!sameRequest(record, command)) {
      throw new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'This idempotency key was already used for a different request on this customer.',
        { idempotency_key: command.idempotencyKey },
      );
    }
    return [];
  }
  if (!config.currencies.has(command.currency)) {
    throw new DomainError('WALLET.UNSUPPORTED_CURRENCY', `Currency ${command.currency} is not supported.`, {
      supported: [...config.currencies.keys()],
    });
  }
  if (!Number.isSafeInteger(command.amountMinor) || command.amountMinor <= 0) {
    throw new DomainError('WALLET.INVALID_AMOUNT', 'Amount must be a positive safe integer in minor units.');
  }
  const wallet = state.wallets.get(command.currency);
  const balanceMinor = wallet?.balanceMinor ?? 0;
  const balanceAfterMinor = nextBalance(command, balanceMinor);
  if (command.direction === 'credit') requireReportableTotal(command, state, balanceAfterMinor, config);
  const data: LedgerEntryData = {
    customerId: command.customerId,
    businessId: command.businessId,
    entryId: command.entryId,
    currency: command.currency,
    amountMinor: command.amountMinor,
    balanceAfterMinor,
    reason: command.reason,
    idempotencyKey: command.idempotencyKey,
    occurredAt: command.now,
  };
  const entry: WalletEvent =
    command.direction === 'credit' ? { type: 'WalletCredited', data } : { type: 'WalletDebited', data };
  // A currency added to the configuration after the customer was created opens on first use.
  return wallet === undefined ? [walletOpened(command.customerId, command.currency, command.now), entry] : [entry];
}

function nextBalance(command: RecordLedgerEntry, balanceMinor: number): number {
  switch (command.direction) {
    case 'credit': {
      const after = balanceMinor + command.amountMinor;
      if (!Number.isSafeInteger(after)) {
        throw new DomainError('WALLET.BALANCE_OVERFLOW', 'This credit would take the balance past the largest safe integer.', {
          balance: balanceMinor,
          max_balance: Number.MAX_SAFE_INTEGER,
        });
      }
      return after;
    }
    case 'debit':
      if (command.amountMinor > balanceMinor) {
        throw new DomainError('WALLET.INSUFFICIENT_BALANCE', `Insufficient ${command.currency} balance for this debit.`, {
          balance: balanceMinor,
          amount: command.amountMinor,
          currency: command.currency,
        });
      }
      return balanceMinor - command.amountMinor;
    default:
      return assertNever(command.direction, 'entry direction');
  }
}

/**
 * `total_balance_usd` is a JSON number, exact only up to 2^53 − 1. Each balance is capped
 * there, but the converted total of several is not, so a credit that would push the
 * customer's total past it is refused: every total the API reports is then exact (as long
 * as rates do not change; the read side refuses to report an inexact total if they do).
 * Debits only lower the total, so they are never refused by this rule.
 */
function requireReportableTotal(command: RecordLedgerEntry, state: WalletState, balanceAfterMinor: number, config: DeciderConfig): void {
  const after = { currency: command.currency, balanceMinor: balanceAfterMinor };
  const balances = [...state.wallets.values()].map((wallet) => (wallet.currency === command.currency ? after : wallet));
  if (!state.wallets.has(command.currency)) balances.push(after);
  const total = totalUsdMinor(balances, config.currencies);
  if (total > TOTAL_USD_MINOR_MAX) {
    throw new DomainError(
      'WALLET.TOTAL_BALANCE_OVERFLOW',
      'This credit would take the customer\'s total across currencies past 2^53 − 1 US cents, the largest total the API can report exactly.',
      { currency: command.currency, max_total_balance_usd: Number.MAX_SAFE_INTEGER },
    );
  }
}

function evolveEntry(
  state: WalletState,
  version: number,
  direction: 'credit' | 'debit',
  data: LedgerEntryData,
  config: DeciderConfig,
): WalletState {
  const previous = state.wallets.get(data.currency);
  const wallet: WalletBalance = {
    currency: data.currency,
    balanceMinor: data.balanceAfterMinor,
    openedAt: previous?.openedAt ?? data.occurredAt,
    updatedAt: data.occurredAt,
  };
  const occurredAtMs = Date.parse(data.occurredAt);
  let idempotency = state.idempotency.expireBefore(occurredAtMs - config.idempotencyRetentionMs);
  const record = idempotencyRecordOf(direction, data, version, occurredAtMs);
  if (record !== null) idempotency = idempotency.add(record);
  return { ...state, version, wallets: withWallet(state.wallets, wallet), idempotency };
}

/**
 * The record a keyed entry leaves, `version` being the stream version right after it; null for
 * an entry without a key. What `evolve` indexes, and what a writer rebuilds from a stored event
 * when it finds a key through the store instead of in memory.
 */
export function idempotencyRecordOf(
  direction: EntryDirection,
  data: LedgerEntryData,
  version: number,
  occurredAtMs: number = Date.parse(data.occurredAt),
): IdempotencyRecord | null {
  if (data.idempotencyKey === null) return null;
  return {
    key: data.idempotencyKey,
    direction,
    currency: data.currency,
    amountMinor: data.amountMinor,
    reason: data.reason,
    entryId: data.entryId,
    balanceAfterMinor: data.balanceAfterMinor,
    occurredAt: data.occurredAt,
    occurredAtMs,
    version,
  };
}

function findLiveRecord(
  command: RecordLedgerEntry,
  state: WalletState,
  config: DeciderConfig,
): IdempotencyRecord | undefined {
  if (command.idempotencyKey === null) return undefined;
  const notBeforeMs = Date.parse(command.now) - config.idempotencyRetentionMs;
  return state.idempotency.find(command.idempotencyKey, state.version, notBeforeMs);
}

function sameRequest(record: IdempotencyRecord, command: RecordLedgerEntry): boolean {
  return (
    record.direction === command.direction &&
    record.currency === command.currency &&
    record.amountMinor === command.amountMinor &&
    record.reason === command.reason
  );
}

function requireProfile(state: WalletState): CustomerProfile {
  if (state.customer === null) throw new Error('event applied to a customer that does not exist');
  return state.customer;
}

/** Another business's customer is reported exactly like a missing one. */
function requireOwnedProfile(state: WalletState, customerId: string, businessId: string): CustomerProfile {
  if (state.customer === null || state.customer.businessId !== businessId) {
    throw new DomainError('CUSTOMER_NOT_FOUND', `Customer ${customerId} was not found.`);
  }
  return state.customer;
}

function applyProfileChanges(profile: CustomerProfile, data: Extract<WalletEvent, { type: 'CustomerUpdated' }>['data']) {
  return {
    ...profile,
    email: data.email ?? profile.email,
    name: data.name ?? profile.name,
    phoneNumber: data.phoneNumber !== undefined ? data.phoneNumber : profile.phoneNumber,
    metadata: data.metadata ?? profile.metadata,
  };
}

function withWallet(wallets: ReadonlyMap<string, WalletBalance>, wallet: WalletBalance): Map<string, WalletBalance> {
  const next = new Map(wallets);
  next.set(wallet.currency, wallet);
  return next;
}

function walletOpened(customerId: string, currency: string, openedAt: string): WalletEvent {
  return { type: 'WalletOpened', data: { customerId, currency, openedAt } };
}

function sameMetadata(a: Metadata, b: Metadata): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
