import type { Metadata } from './wallet.events.js';

export type EntryDirection = 'credit' | 'debit';

export interface CreateCustomer {
  readonly type: 'CreateCustomer';
  readonly customerId: string;
  readonly businessId: string;
  readonly email: string;
  readonly name: string;
  readonly phoneNumber: string | null;
  readonly metadata: Metadata;
  readonly now: string;
}

export interface UpdateCustomer {
  readonly type: 'UpdateCustomer';
  readonly customerId: string;
  readonly businessId: string;
  readonly email?: string;
  readonly name?: string;
  readonly phoneNumber?: string | null;
  readonly metadata?: Metadata;
  readonly now: string;
}

export interface RecordLedgerEntry {
  readonly type: 'RecordLedgerEntry';
  readonly customerId: string;
  readonly businessId: string;
  /** Id for the new entry; generated outside the domain so decide stays pure. */
  readonly entryId: string;
  readonly direction: EntryDirection;
  readonly currency: string;
  readonly amountMinor: number;
  readonly reason: string | null;
  readonly idempotencyKey: string | null;
  readonly now: string;
}

export type WalletCommand = CreateCustomer | UpdateCustomer | RecordLedgerEntry;
