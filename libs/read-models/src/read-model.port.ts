import type { RecordedEvent } from '../../event-store/src/event-store.port.js';

export interface CustomerView {
  readonly customerId: string;
  readonly businessId: string;
  readonly email: string;
  readonly name: string;
  readonly phoneNumber: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export interface WalletView {
  readonly customerId: string;
  readonly currency: string;
  readonly balanceMinor: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface LedgerEntryView {
  readonly id: string;
  readonly customerId: string;
  readonly businessId: string;
  readonly currency: string;
  readonly amountMinor: number;
  readonly isCredit: boolean;
  readonly beforeBalanceMinor: number;
  readonly afterBalanceMinor: number;
  readonly eventType: 'merchant_adjustment';
  readonly reason: string | null;
  readonly referenceObjectId: string | null;
  readonly createdAt: string;
}

export interface PageRequest {
  /** 0-based. */
  readonly pageNumber: number;
  readonly pageSize: number;
}

export interface LedgerEntryQuery extends PageRequest {
  readonly currency?: string;
}

export interface CustomerQuery extends PageRequest {
  readonly email?: string;
}

/**
 * The read side's port. `applyEvents` is the only write: it takes events in global
 * order and must be idempotent, since a crash between apply and checkpoint, or a
 * second projector, can hand it the same events again.
 */
export interface ReadModelStore {
  applyEvents(events: readonly RecordedEvent[]): Promise<void>;
  /** Global position of the last event applied, or null before the first. */
  checkpoint(): Promise<number | null>;
  findCustomer(businessId: string, customerId: string): Promise<CustomerView | null>;
  listCustomers(businessId: string, query: CustomerQuery): Promise<CustomerView[]>;
  listWallets(customerId: string): Promise<WalletView[]>;
  /** Newest first. Deep pages must cost the same as the first (keyset underneath). */
  listLedgerEntries(customerId: string, query: LedgerEntryQuery): Promise<LedgerEntryView[]>;
  close(): Promise<void>;
}

/** Bumped when a read model's shape changes; storage names carry it, ready for rebuilds. */
export const WALLET_PROJECTION = { name: 'wallet', version: 1 } as const;
