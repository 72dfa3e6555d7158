import type { AuditReport, Discrepancy } from '#ledger';

/** The audit report in the API's snake_case. Balances stay keyed by currency code. */
export interface AuditReportResponse {
  readonly ok: boolean;
  readonly scope: { readonly customer_id: string } | 'all';
  readonly read_model_version: number | null;
  readonly checkpoint: number | null;
  readonly lag: number;
  readonly totals: {
    readonly customers: number;
    readonly events: number;
    readonly entries: number;
    readonly balances_from_events: Record<string, number>;
    readonly balances_from_read_models: Record<string, number>;
    readonly customers_with_discrepancies: number;
    readonly discrepancies: number;
  };
  readonly discrepancies: readonly DiscrepancyResponse[];
  readonly duration_ms: number;
  readonly events_per_second: number;
}

export interface DiscrepancyResponse {
  readonly customer_id: string;
  readonly currency: string | null;
  readonly kind: string;
  readonly entry_id?: string;
  readonly field?: string;
  /** What the events say and what the read models say: values as stored, passed through unchanged. */
  readonly expected: unknown;
  readonly actual: unknown;
  readonly message: string;
}

/**
 * Field by field rather than a generic key converter: `expected`/`actual` are data (a
 * metadata map's keys are the customer's own), and currency codes are keys too.
 */
export function auditReportToWire(report: AuditReport): AuditReportResponse {
  return {
    ok: report.ok,
    scope: report.scope === 'all' ? 'all' : { customer_id: report.scope.customerId },
    read_model_version: report.readModelVersion,
    checkpoint: report.checkpoint,
    lag: report.lag,
    totals: {
      customers: report.totals.customers,
      events: report.totals.events,
      entries: report.totals.entries,
      balances_from_events: { ...report.totals.balancesFromEvents },
      balances_from_read_models: { ...report.totals.balancesFromReadModels },
      customers_with_discrepancies: report.totals.customersWithDiscrepancies,
      discrepancies: report.totals.discrepancies,
    },
    discrepancies: report.discrepancies.map(discrepancyToWire),
    duration_ms: report.durationMs,
    events_per_second: report.eventsPerSecond,
  };
}

function discrepancyToWire(d: Discrepancy): DiscrepancyResponse {
  return {
    customer_id: d.customerId,
    currency: d.currency,
    kind: d.kind,
    ...(d.entryId !== undefined && { entry_id: d.entryId }),
    ...(d.field !== undefined && { field: d.field }),
    expected: d.expected,
    actual: d.actual,
    message: d.message,
  };
}
