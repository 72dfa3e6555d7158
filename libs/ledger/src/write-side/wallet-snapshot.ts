import { IdempotencyIndex, type CustomerProfile, type IdempotencyRecord, type WalletBalance, type WalletState } from '#domain';

/**
 * A `WalletState` as JSON for the snapshot store, and back. The domain stays pure: it only
 * versions its fold (`WALLET_STATE_VERSION`); how a state is written down is decided here.
 *
 * The idempotency index is shared along a line of states (see `IdempotencyIndex`), so it may
 * hold records decided after the state being written: only the records visible at the state's
 * version are carried, and none older than the retention window at the time of writing (no
 * decision with a current clock can see those; evolving on from the snapshot expires the rest
 * exactly as a fold would).
 */
export interface WalletStateJson {
  readonly version: number;
  readonly customer: CustomerProfile | null;
  readonly wallets: readonly WalletBalance[];
  /** Oldest first, as the index keeps them. */
  readonly idempotency: readonly IdempotencyRecord[];
}

export function walletStateToJson(state: WalletState, keysNotBeforeMs: number): WalletStateJson {
  return {
    version: state.version,
    customer: state.customer,
    wallets: [...state.wallets.values()],
    idempotency: [...state.idempotency.visibleAt(state.version, keysNotBeforeMs)],
  };
}

/** The state a snapshot holds, or null when it is not a well-formed one (then the stream is folded from its start). */
export function walletStateFromJson(json: unknown): WalletState | null {
  if (!isObject(json)) return null;
  const { version, customer, wallets, idempotency } = json;
  if (!isCount(version) || !Array.isArray(wallets) || !Array.isArray(idempotency)) return null;
  if (customer !== null && !isCustomer(customer)) return null;
  if (!wallets.every(isWallet) || !idempotency.every((record) => isRecord(record, version))) return null;
  const index = new IdempotencyIndex();
  for (const record of idempotency as IdempotencyRecord[]) index.add(record);
  const byCurrency = new Map((wallets as WalletBalance[]).map((wallet) => [wallet.currency, wallet]));
  return { version, customer: customer as CustomerProfile | null, wallets: byCurrency, idempotency: index };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isCustomer(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.customerId === 'string' &&
    typeof value.businessId === 'string' &&
    typeof value.email === 'string' &&
    typeof value.name === 'string' &&
    (value.phoneNumber === null || typeof value.phoneNumber === 'string') &&
    isObject(value.metadata) &&
    typeof value.createdAt === 'string'
  );
}

function isWallet(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.currency === 'string' &&
    isCount(value.balanceMinor) &&
    typeof value.openedAt === 'string' &&
    typeof value.updatedAt === 'string'
  );
}

function isRecord(value: unknown, stateVersion: number): boolean {
  return (
    isObject(value) &&
    typeof value.key === 'string' &&
    (value.direction === 'credit' || value.direction === 'debit') &&
    typeof value.currency === 'string' &&
    isCount(value.amountMinor) &&
    (value.reason === null || typeof value.reason === 'string') &&
    typeof value.entryId === 'string' &&
    isCount(value.balanceAfterMinor) &&
    typeof value.occurredAt === 'string' &&
    Number.isSafeInteger(value.occurredAtMs) &&
    isCount(value.version) &&
    value.version <= stateVersion
  );
}
