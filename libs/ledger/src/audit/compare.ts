import type { CustomerView, LedgerEntryView, ReadModelStore, WalletView } from '#read-models';
import type { Discrepancy } from './audit.types.js';
import type { CustomerReplay } from './customer-replay.js';
import { EntryDigest } from './entry-digest.js';

/** One customer as the read models show it; entries oldest first. */
export interface ReadModelSnapshot {
  readonly customer: CustomerView | null;
  readonly wallets: readonly WalletView[];
  readonly entries: readonly LedgerEntryView[];
}

export const ENTRY_PAGE_SIZE = 1000;

/** Reads one customer through the ReadModelStore port (every page of its history). */
export async function readSnapshot(
  readModels: ReadModelStore,
  customerId: string,
  businessId: string | null,
): Promise<ReadModelSnapshot> {
  const customer = businessId === null ? null : await readModels.findCustomer(businessId, customerId);
  const wallets = await readModels.listWallets(customerId);
  const newestFirst: LedgerEntryView[] = [];
  for (let pageNumber = 0; ; pageNumber += 1) {
    const page = await readModels.listLedgerEntries(customerId, { pageNumber, pageSize: ENTRY_PAGE_SIZE });
    for (const entry of page) newestFirst.push(entry);
    if (page.length < ENTRY_PAGE_SIZE) break;
  }
  return { customer, wallets, entries: newestFirst.reverse() };
}

/** The cheap check of a sweep: counts, balances and fingerprints. False means "compare in detail". */
export function snapshotMatches(expected: CustomerReplay, actual: ReadModelSnapshot): boolean {
  if (expected.broken || expected.problems.length > 0) return false;
  if (!profileMatches(expected, actual.customer)) return false;
  const wallets = expected.wallets();
  if (wallets.length !== actual.wallets.length) return false;
  const byCurrency = new Map(actual.wallets.map((w) => [w.currency, w]));
  for (const w of wallets) {
    const a = byCurrency.get(w.currency);
    if (a === undefined || a.balanceMinor !== w.balanceMinor || a.createdAt !== w.createdAt || a.updatedAt !== w.updatedAt)
      return false;
  }
  if (actual.entries.length !== expected.entryCount) return false;
  const digest = new EntryDigest();
  let withPositions = false;
  for (const entry of actual.entries) {
    digest.addEntry(entry);
    withPositions ||= entry.eventPosition !== undefined;
  }
  if (digest.value !== expected.digest.value) return false;
  return !withPositions || digest.positionValue === expected.digest.positionValue;
}

/** Every difference between what the events say (with entries kept) and what the read models show. */
export function compareCustomer(expected: CustomerReplay, actual: ReadModelSnapshot): Discrepancy[] {
  const found: Discrepancy[] = [...expected.problems];
  // After an undecodable event the expectation stops; comparing further would only repeat that.
  if (expected.broken) return found;
  const customerId = expected.customerId;
  const add = (d: Omit<Discrepancy, 'customerId'>) => found.push({ customerId, ...d });
  compareProfile(expected, actual.customer, add);
  compareWallets(expected, actual.wallets, add);
  compareEntries(expected.entries ?? [], actual.entries, add);
  return found;
}

type Add = (d: Omit<Discrepancy, 'customerId'>) => void;

function profileMatches(expected: CustomerReplay, actual: CustomerView | null): boolean {
  const profile = expected.profile;
  if (profile === null || actual === null) return profile === null && actual === null;
  return profileFields(profile).every(([field, value]) => same(value, actual[field]));
}

function profileFields(profile: NonNullable<CustomerReplay['profile']>): Array<[keyof CustomerView, unknown]> {
  return [
    ['businessId', profile.businessId],
    ['email', profile.email],
    ['name', profile.name],
    ['phoneNumber', profile.phoneNumber],
    ['metadata', profile.metadata],
    ['createdAt', profile.createdAt],
  ];
}

function compareProfile(expected: CustomerReplay, actual: CustomerView | null, add: Add): void {
  const profile = expected.profile;
  if (profile === null && actual === null) return;
  if (profile === null) {
    add({
      currency: null,
      kind: 'customer.unexpected',
      expected: null,
      actual,
      message: 'the read models show a customer the events never created',
    });
    return;
  }
  if (actual === null) {
    add({
      currency: null,
      kind: 'customer.missing',
      expected: profile,
      actual: null,
      message: 'the customer is missing from the read models',
    });
    return;
  }
  for (const [field, value] of profileFields(profile)) {
    if (!same(value, actual[field])) {
      add({
        currency: null,
        kind: 'customer.mismatch',
        field,
        expected: value,
        actual: actual[field],
        message: `customer ${field} differs`,
      });
    }
  }
}

function compareWallets(expected: CustomerReplay, actual: readonly WalletView[], add: Add): void {
  const remaining = new Map(actual.map((w) => [w.currency, w]));
  for (const w of expected.wallets()) {
    const a = remaining.get(w.currency);
    remaining.delete(w.currency);
    if (a === undefined) {
      add({
        currency: w.currency,
        kind: 'wallet.missing',
        field: 'balance',
        expected: w.balanceMinor,
        actual: null,
        message: `the ${w.currency} wallet is missing`,
      });
      continue;
    }
    if (a.balanceMinor !== w.balanceMinor) {
      add({
        currency: w.currency,
        kind: 'wallet.balance',
        field: 'balance',
        expected: w.balanceMinor,
        actual: a.balanceMinor,
        message: `${w.currency} balance is ${a.balanceMinor} in the read models; the events say ${w.balanceMinor}`,
      });
    }
    for (const field of ['createdAt', 'updatedAt'] as const) {
      if (a[field] !== w[field]) {
        add({
          currency: w.currency,
          kind: 'wallet.mismatch',
          field,
          expected: w[field],
          actual: a[field],
          message: `${w.currency} wallet ${field} differs`,
        });
      }
    }
  }
  for (const a of remaining.values()) {
    add({
      currency: a.currency,
      kind: 'wallet.unexpected',
      field: 'balance',
      expected: null,
      actual: a.balanceMinor,
      message: `the read models show a ${a.currency} wallet the events never opened`,
    });
  }
}

const ENTRY_FIELDS = [
  'businessId',
  'currency',
  'amountMinor',
  'isCredit',
  'beforeBalanceMinor',
  'afterBalanceMinor',
  'reason',
  'createdAt',
] as const;

/** Entries are matched by id, so one missing entry is reported once rather than shifting every later one. */
function compareEntries(expected: readonly LedgerEntryView[], actual: readonly LedgerEntryView[], add: Add): void {
  const byId = new Map(actual.map((entry, index) => [entry.id, { entry, index }]));
  let lastIndex = -1;
  for (const e of expected) {
    const match = byId.get(e.id);
    if (match === undefined) {
      add({
        currency: e.currency,
        kind: 'entry.missing',
        entryId: e.id,
        expected: e,
        actual: null,
        message: `entry ${e.id} is missing from the history`,
      });
      continue;
    }
    byId.delete(e.id);
    const a = match.entry;
    for (const field of ENTRY_FIELDS) {
      if (a[field] !== e[field]) {
        add({
          currency: e.currency,
          kind: 'entry.mismatch',
          entryId: e.id,
          field,
          expected: e[field],
          actual: a[field],
          message: `entry ${e.id} ${field} differs`,
        });
      }
    }
    if (a.eventPosition !== undefined && a.eventPosition !== e.eventPosition) {
      add({
        currency: e.currency,
        kind: 'entry.mismatch',
        entryId: e.id,
        field: 'eventPosition',
        expected: e.eventPosition,
        actual: a.eventPosition,
        message: `entry ${e.id} eventPosition differs`,
      });
    }
    if (match.index < lastIndex) {
      add({
        currency: e.currency,
        kind: 'entry.order',
        entryId: e.id,
        expected: 'after the entry before it',
        actual: `history position ${match.index}`,
        message: `entry ${e.id} is out of order in the history`,
      });
    }
    lastIndex = Math.max(lastIndex, match.index);
  }
  for (const { entry } of byId.values()) {
    add({
      currency: entry.currency,
      kind: 'entry.unexpected',
      entryId: entry.id,
      expected: null,
      actual: entry,
      message: `the history shows entry ${entry.id} that no event recorded`,
    });
  }
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return canonical(a) === canonical(b);
}

function canonical(value: object): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));
}
