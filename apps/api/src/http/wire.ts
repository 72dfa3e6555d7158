import type { CustomerView, LedgerEntryView, WalletView } from '#read-models';
import type { CustomerResponse } from '../customers/customer.dto.js';
import type { CustomerWalletResponse, CustomerWalletTransactionResponse } from '../wallets/wallet.dto.js';

/** Read-model views (camelCase, units in names) to the Dodo wire shapes (snake_case). */
export function customerToWire(c: CustomerView): CustomerResponse {
  return {
    customer_id: c.customerId,
    business_id: c.businessId,
    email: c.email,
    name: c.name,
    phone_number: c.phoneNumber,
    metadata: { ...c.metadata },
    created_at: c.createdAt,
  };
}

export function walletToWire(w: WalletView): CustomerWalletResponse {
  return { balance: w.balanceMinor, currency: w.currency, customer_id: w.customerId, created_at: w.createdAt, updated_at: w.updatedAt };
}

export function entryToWire(e: LedgerEntryView): CustomerWalletTransactionResponse {
  return {
    id: e.id,
    customer_id: e.customerId,
    business_id: e.businessId,
    currency: e.currency,
    amount: e.amountMinor,
    is_credit: e.isCredit,
    before_balance: e.beforeBalanceMinor,
    after_balance: e.afterBalanceMinor,
    event_type: e.eventType,
    reason: e.reason,
    reference_object_id: e.referenceObjectId,
    created_at: e.createdAt,
  };
}
