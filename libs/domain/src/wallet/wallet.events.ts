/**
 * Events of one customer's stream (`wallet-<customer_id>`). The stream holds the
 * customer's own facts and every wallet entry, so one optimistic-concurrency check
 * covers tenancy, balances and idempotency together.
 */
export type Metadata = Readonly<Record<string, string>>;

export interface CustomerCreated {
  readonly type: 'CustomerCreated';
  readonly data: {
    readonly customerId: string;
    readonly businessId: string;
    readonly email: string;
    readonly name: string;
    readonly phoneNumber: string | null;
    readonly metadata: Metadata;
    readonly createdAt: string;
  };
}

export interface CustomerUpdated {
  readonly type: 'CustomerUpdated';
  readonly data: {
    readonly customerId: string;
    readonly email?: string;
    readonly name?: string;
    readonly phoneNumber?: string | null;
    readonly metadata?: Metadata;
    readonly updatedAt: string;
  };
}

export interface WalletOpened {
  readonly type: 'WalletOpened';
  readonly data: { readonly customerId: string; readonly currency: string; readonly openedAt: string };
}

/** Shared shape of credits and debits: enough to rebuild history with before/after balances. */
export interface LedgerEntryData {
  readonly customerId: string;
  /** Denormalised so projections and audits need no join to find the tenant. */
  readonly businessId: string;
  readonly entryId: string;
  readonly currency: string;
  readonly amountMinor: number;
  /** Balance of this currency's wallet right after the entry. */
  readonly balanceAfterMinor: number;
  readonly reason: string | null;
  readonly idempotencyKey: string | null;
  readonly occurredAt: string;
}

export interface WalletCredited {
  readonly type: 'WalletCredited';
  readonly data: LedgerEntryData;
}

export interface WalletDebited {
  readonly type: 'WalletDebited';
  readonly data: LedgerEntryData;
}

export type WalletEvent = CustomerCreated | CustomerUpdated | WalletOpened | WalletCredited | WalletDebited;
export type WalletEventType = WalletEvent['type'];

export const WALLET_EVENT_TYPES: readonly WalletEventType[] = [
  'CustomerCreated',
  'CustomerUpdated',
  'WalletOpened',
  'WalletCredited',
  'WalletDebited',
];

export function isWalletEventType(type: string): type is WalletEventType {
  return (WALLET_EVENT_TYPES as readonly string[]).includes(type);
}

export const walletStreamId = (customerId: string): string => `wallet-${customerId}`;
export const WALLET_STREAM_PREFIX = 'wallet-';
