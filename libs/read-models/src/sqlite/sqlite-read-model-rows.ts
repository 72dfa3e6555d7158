import type { CustomerView, LedgerEntryView, WalletView } from '../read-model.port.js';

/* Rows as the SQLite read models store them, and their mapping to the port's views. */

export interface CustomerRow {
  customer_id: string;
  business_id: string;
  email: string;
  name: string;
  phone_number: string | null;
  metadata: string;
  created_at: string;
  revision: number;
  entry_count: number;
  business_seq: number;
}

export interface WalletRow {
  customer_id: string;
  currency: string;
  balance_minor: number;
  created_at: string;
  updated_at: string;
  entry_count: number;
}

export function toCustomer(row: CustomerRow): CustomerView {
  return {
    customerId: row.customer_id,
    businessId: row.business_id,
    email: row.email,
    name: row.name,
    phoneNumber: row.phone_number,
    metadata: JSON.parse(row.metadata),
    createdAt: row.created_at,
  };
}

export function toWallet(row: WalletRow): WalletView {
  return {
    customerId: row.customer_id,
    currency: row.currency,
    balanceMinor: row.balance_minor,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A history row as `entryColumns` selects it. */
export type EntryTuple = [
  id: string,
  businessId: string,
  currency: string,
  amountMinor: number,
  isCredit: number,
  beforeBalanceMinor: number,
  afterBalanceMinor: number,
  reason: string | null,
  createdAt: string,
  eventPosition: number | null,
];

export function toEntry(customerId: string, row: EntryTuple): LedgerEntryView {
  const [
    id,
    businessId,
    currency,
    amountMinor,
    isCredit,
    beforeBalanceMinor,
    afterBalanceMinor,
    reason,
    createdAt,
    eventPosition,
  ] = row;
  const entry: LedgerEntryView = {
    id,
    customerId,
    businessId,
    currency,
    amountMinor,
    isCredit: isCredit === 1,
    beforeBalanceMinor,
    afterBalanceMinor,
    eventType: 'merchant_adjustment',
    reason,
    referenceObjectId: null,
    createdAt,
  };
  // Layout 2 and later only: older versions have no such column.
  if (eventPosition !== null) (entry as { eventPosition?: number }).eventPosition = eventPosition;
  return entry;
}
