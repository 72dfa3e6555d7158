import {
  assertNever,
  decodeWalletEvent,
  type LedgerEntryData,
  type WalletEvent,
} from '#domain';
import type { RecordedEvent } from '#event-store';
import type { CustomerView, LedgerEntryView } from './read-model.port.js';

/**
 * What one event does to the read models, independent of the storage. Every
 * adapter applies these operations; each carries the event's stream revision, which
 * is what guards a row against replays (all rows of a customer come from its stream).
 */
export type ProjectionOp =
  | { readonly kind: 'customer.create'; readonly revision: number; readonly customer: CustomerView }
  | {
      readonly kind: 'customer.update';
      readonly revision: number;
      readonly customerId: string;
      readonly changes: Partial<Pick<CustomerView, 'email' | 'name' | 'phoneNumber' | 'metadata'>>;
    }
  | {
      readonly kind: 'wallet.open';
      readonly revision: number;
      readonly customerId: string;
      readonly currency: string;
      readonly openedAt: string;
    }
  | { readonly kind: 'entry.add'; readonly revision: number; readonly entry: LedgerEntryView };

export function projectEvent(recorded: RecordedEvent): ProjectionOp {
  const event = decodeWalletEvent(recorded);
  return projectDecoded(event, recorded.revision, recorded.position);
}

/** What one already decoded event does to the read models; `position` is its global position. */
export function projectDecoded(event: WalletEvent, revision: number, position: number): ProjectionOp {
  switch (event.type) {
    case 'CustomerCreated':
      return { kind: 'customer.create', revision, customer: { ...event.data } };
    case 'CustomerUpdated': {
      const { customerId, email, name, phoneNumber, metadata } = event.data;
      const changes = Object.fromEntries(
        Object.entries({ email, name, phoneNumber, metadata }).filter(([, value]) => value !== undefined),
      );
      return { kind: 'customer.update', revision, customerId, changes };
    }
    case 'WalletOpened':
      return { kind: 'wallet.open', revision, ...event.data };
    case 'WalletCredited':
      return { kind: 'entry.add', revision, entry: toEntry(event.data, true, position) };
    case 'WalletDebited':
      return { kind: 'entry.add', revision, entry: toEntry(event.data, false, position) };
    default:
      return assertNever(event, 'event');
  }
}

function toEntry(data: LedgerEntryData, isCredit: boolean, eventPosition: number): LedgerEntryView {
  const beforeBalanceMinor = isCredit ? data.balanceAfterMinor - data.amountMinor : data.balanceAfterMinor + data.amountMinor;
  return {
    id: data.entryId,
    customerId: data.customerId,
    businessId: data.businessId,
    currency: data.currency,
    amountMinor: data.amountMinor,
    isCredit,
    beforeBalanceMinor,
    afterBalanceMinor: data.balanceAfterMinor,
    eventType: 'merchant_adjustment',
    reason: data.reason,
    referenceObjectId: null,
    createdAt: data.occurredAt,
    eventPosition,
  };
}
