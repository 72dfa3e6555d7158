import type { RecordedEvent } from '#event-store';

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
  /**
   * Global position of the event that recorded this entry. Read-model layout 2 and later
   * (see `WALLET_READ_MODEL_LAYOUT`); absent from versions built with layout 1.
   */
  readonly eventPosition?: number;
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
  /**
   * The identity of the log these read models were projected from (see `logIdentityOf`),
   * or null before one was recorded. A checkpoint only means something in that log.
   */
  logIdentity?(): Promise<string | null>;
  /** Records the log identity; the first one recorded stays (a later, different one is ignored). */
  recordLogIdentity?(identity: string): Promise<void>;
  findCustomer(businessId: string, customerId: string): Promise<CustomerView | null>;
  listCustomers(businessId: string, query: CustomerQuery): Promise<CustomerView[]>;
  listWallets(customerId: string): Promise<WalletView[]>;
  /** Newest first. Deep pages must cost the same as the first (keyset underneath). */
  listLedgerEntries(customerId: string, query: LedgerEntryQuery): Promise<LedgerEntryView[]>;
  close(): Promise<void>;
}

/**
 * The wallet projection. Storage names carry a version (`wallet_v1_entries`): a rebuild
 * builds version N + 1 beside N and switches the active version in the projection
 * registry (`projection-registry.ts`). `version` is the one a store starts with when the
 * registry has no entry yet; the active one is whatever the registry says.
 */
export const WALLET_PROJECTION = { name: 'wallet', version: 1 } as const;

/**
 * The shape new read-model versions are built with. A rebuild is how a new layout reaches
 * an existing deployment: versions built earlier keep their layout and stay readable.
 *  1. the original tables;
 *  2. ledger entries also carry `eventPosition` (the global position of their event),
 *     indexed, so an entry leads straight back to the event that recorded it.
 */
export const WALLET_READ_MODEL_LAYOUT = 2;

/** Thrown by a writer's pinned read models once another version has become active. */
export class ReadModelSwitchedError extends Error {
  constructor(from: number, to: number) {
    super(`read models switched from v${from} to v${to}; resubscribe from the new version's checkpoint`);
    this.name = 'ReadModelSwitchedError';
  }
}

/**
 * Read models that follow the projection registry. A projector must feed one version for
 * the whole of a subscription, so it pins one with `writeTarget()` (which throws
 * `ReadModelSwitchedError` once stale) and resubscribes, from the pinned version's own
 * checkpoint, when `onWriteTargetChange` fires.
 */
export interface VersionedReadModels {
  writeTarget(): ReadModelStore;
  /** Returns a function that removes the listener. */
  onWriteTargetChange(listener: () => void): () => void;
}

export function isVersionedReadModels(store: ReadModelStore): store is ReadModelStore & VersionedReadModels {
  const candidate = store as Partial<VersionedReadModels>;
  return typeof candidate.writeTarget === 'function' && typeof candidate.onWriteTargetChange === 'function';
}
