/** What an audit can find wrong, and where. "Expected" is what the events say; "actual" what the read models say. */
export type DiscrepancyKind =
  /** An event this build cannot decode or upcast: nothing after it in the stream can be verified. */
  | 'event.undecodable'
  /** The events disagree with themselves: an entry's balance does not follow from the one before it. */
  | 'event.chain'
  | 'customer.missing'
  | 'customer.unexpected'
  | 'customer.mismatch'
  | 'wallet.missing'
  | 'wallet.unexpected'
  | 'wallet.balance'
  | 'wallet.mismatch'
  | 'entry.missing'
  | 'entry.unexpected'
  | 'entry.mismatch'
  | 'entry.order';

export interface Discrepancy {
  readonly customerId: string;
  readonly currency: string | null;
  readonly kind: DiscrepancyKind;
  readonly entryId?: string;
  readonly field?: string;
  /** What the events say. */
  readonly expected: unknown;
  /** What the read models say. */
  readonly actual: unknown;
  readonly message: string;
}

/** Balances per currency, in minor units. */
export type CurrencyTotals = Record<string, number>;

export interface CustomerAuditResult {
  readonly customerId: string;
  readonly businessId: string | null;
  readonly ok: boolean;
  /** Stream events replayed (those at or before the read models' checkpoint). */
  readonly events: number;
  /** Read models' checkpoint the comparison was made at. */
  readonly checkpoint: number | null;
  /** Balances as the events say, per currency. */
  readonly balances: CurrencyTotals;
  readonly entries: number;
  readonly discrepancies: readonly Discrepancy[];
}

export interface AuditReport {
  readonly ok: boolean;
  readonly scope: { readonly customerId: string } | 'all';
  /** Read-model version audited. */
  readonly readModelVersion: number | null;
  /** Events up to this position were audited (the read models' checkpoint when the audit started). */
  readonly checkpoint: number | null;
  /** Events in the log after the checkpoint: not yet projected, so not audited. */
  readonly lag: number;
  readonly totals: {
    readonly customers: number;
    readonly events: number;
    readonly entries: number;
    /** Sum of balances per currency as the events say. */
    readonly balancesFromEvents: CurrencyTotals;
    /** Sum of balances per currency as the read models say (audited customers only). */
    readonly balancesFromReadModels: CurrencyTotals;
    readonly customersWithDiscrepancies: number;
    readonly discrepancies: number;
  };
  readonly discrepancies: readonly Discrepancy[];
  readonly durationMs: number;
  readonly eventsPerSecond: number;
}
