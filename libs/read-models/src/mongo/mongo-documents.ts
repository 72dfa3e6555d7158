import { Long, type Collection, type Db } from 'mongodb';
import type { CustomerView, LedgerEntryView, WalletView } from '../read-model.port.js';

/*
 * The MongoDB documents of the wallet projection, their collections and indexes, and the
 * mapping between documents and the port's views.
 */

/** Amounts and positions are written as int64 and read back as plain numbers (`promoteLongs`). */
export type Int64 = number | Long;

/** Metadata keys are caller-chosen: as field names, `.` or `$` in them would clash with the query language. */
export interface MetadataPair {
  key: string;
  value: string;
}

export interface CustomerDoc {
  _id: string;
  businessId: string;
  email: string;
  name: string;
  phoneNumber: string | null;
  metadata: MetadataPair[];
  createdAt: string;
  /** Stream revision of the last event applied to this customer: the replay guard. */
  revision: number;
  /** Dense counters: the customer's newest entry has `customerSeq === entryCount`. */
  entryCount: number;
  entryCounts: Record<string, number>;
  businessSeq: number;
}

export interface BusinessDoc {
  _id: string;
  /** Highest `businessSeq` handed out; customers above it are not listed yet. */
  customerCount: number;
}

export interface WalletDoc {
  _id: string;
  customerId: string;
  currency: string;
  balanceMinor: Int64;
  createdAt: string;
  updatedAt: string;
  /** Stream revision of the entry that set `balanceMinor`; -1 before any entry. */
  balanceRevision: number;
}

export interface EntryDoc {
  _id: string;
  customerId: string;
  businessId: string;
  currency: string;
  amountMinor: Int64;
  isCredit: boolean;
  beforeBalanceMinor: Int64;
  afterBalanceMinor: Int64;
  reason: string | null;
  createdAt: string;
  customerSeq: number;
  currencySeq: number;
  revision: number;
  /** Global position of the entry's event (read-model layout 2; absent from older documents). */
  eventPosition?: number;
}

export interface CheckpointDoc {
  _id: string;
  position: Int64;
}

/** The log a projection version was built from (see `ReadModelStore.logIdentity`); beside, not in, the checkpoint. */
export interface LogIdentityDoc {
  _id: string;
  logIdentity: string;
}

export interface Collections {
  readonly customers: Collection<CustomerDoc>;
  readonly businesses: Collection<BusinessDoc>;
  readonly wallets: Collection<WalletDoc>;
  readonly entries: Collection<EntryDoc>;
  readonly checkpoints: Collection<CheckpointDoc>;
  readonly logIdentities: Collection<LogIdentityDoc>;
}

export function collectionsFor(db: Db, projectionName: string): Collections {
  return {
    customers: db.collection<CustomerDoc>(`${projectionName}_customers`),
    businesses: db.collection<BusinessDoc>(`${projectionName}_businesses`),
    wallets: db.collection<WalletDoc>(`${projectionName}_wallets`),
    entries: db.collection<EntryDoc>(`${projectionName}_entries`),
    checkpoints: db.collection<CheckpointDoc>('projection_checkpoints'),
    logIdentities: db.collection<LogIdentityDoc>('projection_log_identities'),
  };
}

/**
 * Idempotent: creating an index that exists with the same keys and options is a no-op.
 * One index per command: FerretDB 1.24 panics when a multi-index createIndexes meets
 * indexes that already exist (every restart would).
 */
export async function createIndexes(c: Collections): Promise<void> {
  await c.wallets.createIndex({ customerId: 1, currency: 1 }, { name: 'customer_currency', unique: true });
  await c.entries.createIndex({ customerId: 1, customerSeq: 1 }, { name: 'customer_seq', unique: true });
  await c.entries.createIndex({ customerId: 1, currency: 1, currencySeq: 1 }, { name: 'customer_currency_seq', unique: true });
  // The port promises that an entry leads back to its event (layout 2): look-ups by position need this.
  await c.entries.createIndex({ eventPosition: 1 }, { name: 'event_position' });
  await c.customers.createIndex({ businessId: 1, businessSeq: 1 }, { name: 'business_seq', unique: true });
  await c.customers.createIndex({ businessId: 1, email: 1, businessSeq: 1 }, { name: 'business_email_seq' });
}

export function walletId(customerId: string, currency: string): string {
  return `${customerId}:${currency}`;
}

export function safe(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${field} is not a safe integer: ${value}`);
  return value;
}

export function int64(value: number, field: string): Long {
  return Long.fromNumber(safe(value, field));
}

export function toNumber(value: Int64): number {
  return typeof value === 'number' ? value : safe(value.toNumber(), 'int64');
}

export function toPairs(metadata: Readonly<Record<string, string>>): MetadataPair[] {
  return Object.entries(metadata).map(([key, value]) => ({ key, value }));
}

// Documents written by older builds may lack null or empty-array fields: a missing field reads as empty.
export function toCustomer(doc: CustomerDoc): CustomerView {
  return {
    customerId: doc._id,
    businessId: doc.businessId,
    email: doc.email,
    name: doc.name,
    phoneNumber: doc.phoneNumber ?? null,
    metadata: Object.fromEntries((doc.metadata ?? []).map((pair) => [pair.key, pair.value])),
    createdAt: doc.createdAt,
  };
}

export function toWallet(doc: WalletDoc): WalletView {
  return {
    customerId: doc.customerId,
    currency: doc.currency,
    balanceMinor: toNumber(doc.balanceMinor),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toEntry(doc: EntryDoc): LedgerEntryView {
  const entry: LedgerEntryView = {
    id: doc._id,
    customerId: doc.customerId,
    businessId: doc.businessId,
    currency: doc.currency,
    amountMinor: toNumber(doc.amountMinor),
    isCredit: doc.isCredit,
    beforeBalanceMinor: toNumber(doc.beforeBalanceMinor),
    afterBalanceMinor: toNumber(doc.afterBalanceMinor),
    eventType: 'merchant_adjustment',
    reason: doc.reason ?? null,
    referenceObjectId: null,
    createdAt: doc.createdAt,
  };
  return doc.eventPosition == null ? entry : { ...entry, eventPosition: doc.eventPosition };
}
