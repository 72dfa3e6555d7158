import { WALLET_STREAM_PREFIX, walletStreamId } from '#domain';
import type { EventStore, RecordedEvent, LogHead } from '#event-store';
import type { ReadModelStore } from '#read-models';
import type { AuditReport, CurrencyTotals, CustomerAuditResult, Discrepancy } from './audit.types.js';
import { compareCustomer, readSnapshot, snapshotMatches } from './compare.js';
import { CustomerReplay } from './customer-replay.js';

export interface AuditDeps {
  readonly eventStore: EventStore;
  /** The read models under audit (one version). */
  readonly readModels: ReadModelStore;
  readonly readModelVersion: number | null;
  /** Counts what the read models have not reached yet; without it the lag is reported as 0. */
  readonly logHead?: LogHead;
}

export interface AuditOptions {
  /** Events read from the log at once. */
  readonly batchSize?: number;
  /** Customers read from the read models at once (matters for a networked store). */
  readonly concurrency?: number;
  /** How often a customer that looks wrong is re-read while the read models are moving. */
  readonly attempts?: number;
  readonly onProgress?: (progress: { readonly phase: 'replaying' | 'comparing'; readonly done: number }) => void;
}

const DEFAULTS = { batchSize: 10_000, concurrency: 16, attempts: 5 } as const;
const STREAM_PAGE = 1000;

/**
 * Replays one customer's stream and compares it with the read models. The comparison
 * is made at the read models' checkpoint: only events up to it are expected to show. If a
 * difference appears while the read models were moving (a live projector), the customer
 * is read again, so only differences that persist are reported.
 */
export async function auditCustomer(
  deps: AuditDeps,
  customerId: string,
  options: AuditOptions & { readonly businessIdHint?: string } = {},
): Promise<CustomerAuditResult> {
  const attempts = options.attempts ?? DEFAULTS.attempts;
  let result: CustomerAuditResult | null = null;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (attempt > 0) await sleep(20 * attempt);
    const before = await deps.readModels.checkpoint();
    const replay = new CustomerReplay(customerId, true);
    for (const event of await readStream(deps.eventStore, walletStreamId(customerId))) {
      if (before !== null && event.position <= before) replay.apply(event);
    }
    const businessId = replay.businessId ?? options.businessIdHint ?? null;
    const snapshot = await readSnapshot(deps.readModels, customerId, businessId);
    const after = await deps.readModels.checkpoint();
    const discrepancies = compareCustomer(replay, snapshot);
    result = {
      customerId,
      businessId: replay.businessId,
      ok: discrepancies.length === 0,
      events: replay.events,
      checkpoint: before,
      balances: Object.fromEntries(replay.wallets().map((w) => [w.currency, w.balanceMinor])),
      entries: replay.entryCount,
      discrepancies,
    };
    if (result.ok || before === after) break;
  }
  return result!;
}

/** The audit of one customer as a report (CLI `audit --customer`, admin HTTP route). */
export async function auditOneCustomer(deps: AuditDeps, customerId: string, options: AuditOptions = {}): Promise<AuditReport> {
  const started = performance.now();
  const result = await auditCustomer(deps, customerId, options);
  const lag = deps.logHead === undefined ? 0 : await deps.logHead.countAfter(result.checkpoint);
  const snapshotTotals: CurrencyTotals = {};
  if (result.businessId !== null) {
    for (const wallet of await deps.readModels.listWallets(customerId))
      addTo(snapshotTotals, wallet.currency, wallet.balanceMinor);
  }
  return report({
    scope: { customerId },
    readModelVersion: deps.readModelVersion,
    checkpoint: result.checkpoint,
    lag,
    customers: result.events > 0 ? 1 : 0,
    events: result.events,
    entries: result.entries,
    balancesFromEvents: result.balances,
    balancesFromReadModels: snapshotTotals,
    discrepancies: result.discrepancies,
    started,
  });
}

/**
 * Audits every `wallet-` stream: one pass over the log in global order (in batches, up
 * to the read models' checkpoint) recomputes every customer with the pure domain and
 * projection, keeping per customer only balances and a fingerprint of the history; then
 * each customer is read from the read models and checked against that. Customers that do
 * not match, and customers the read models show but the log does not, are then compared
 * entry by entry (re-read while the read models move) and every difference is reported.
 */
export async function auditLedger(deps: AuditDeps, options: AuditOptions = {}): Promise<AuditReport> {
  const batchSize = options.batchSize ?? DEFAULTS.batchSize;
  const concurrency = options.concurrency ?? DEFAULTS.concurrency;
  const started = performance.now();
  const checkpoint = await deps.readModels.checkpoint();

  const replays = new Map<string, CustomerReplay>();
  let events = 0;
  let after: number | null = null;
  while (checkpoint !== null) {
    const batch: RecordedEvent[] =
      deps.logHead !== undefined
        ? await deps.logHead.read(after, batchSize)
        : await deps.eventStore.readAll({ after, maxCount: batchSize });
    if (batch.length === 0) break;
    let reachedCheckpoint = false;
    for (const event of batch) {
      if (event.position > checkpoint) {
        reachedCheckpoint = true;
        break;
      }
      if (!event.streamId.startsWith(WALLET_STREAM_PREFIX)) continue;
      const customerId = event.streamId.slice(WALLET_STREAM_PREFIX.length);
      let replay = replays.get(customerId);
      if (replay === undefined) {
        replay = new CustomerReplay(customerId, false);
        replays.set(customerId, replay);
      }
      replay.apply(event);
      events += 1;
    }
    options.onProgress?.({ phase: 'replaying', done: events });
    after = batch[batch.length - 1].position;
    if (reachedCheckpoint || after >= checkpoint) break;
  }

  const balancesFromEvents: CurrencyTotals = {};
  const balancesFromReadModels: CurrencyTotals = {};
  const suspects = new Map<string, string | undefined>();
  let entries = 0;
  let compared = 0;
  await forEachConcurrently([...replays.values()], concurrency, async (replay) => {
    for (const wallet of replay.wallets()) addTo(balancesFromEvents, wallet.currency, wallet.balanceMinor);
    entries += replay.entryCount;
    const snapshot = await readSnapshot(deps.readModels, replay.customerId, replay.businessId);
    for (const wallet of snapshot.wallets) addTo(balancesFromReadModels, wallet.currency, wallet.balanceMinor);
    if (!snapshotMatches(replay, snapshot)) suspects.set(replay.customerId, undefined);
    compared += 1;
    if (compared % 1000 === 0) options.onProgress?.({ phase: 'comparing', done: compared });
  });

  // Customers the read models list that no stream (up to the checkpoint) created.
  const businesses = new Set([...replays.values()].flatMap((r) => (r.businessId === null ? [] : [r.businessId])));
  for (const businessId of businesses) {
    for (let pageNumber = 0; ; pageNumber += 1) {
      const page = await deps.readModels.listCustomers(businessId, { pageNumber, pageSize: 1000 });
      for (const customer of page) {
        if (!replays.has(customer.customerId)) suspects.set(customer.customerId, businessId);
      }
      if (page.length < 1000) break;
    }
  }

  const discrepancies: Discrepancy[] = [];
  for (const [customerId, businessIdHint] of suspects) {
    const result = await auditCustomer(deps, customerId, { ...options, businessIdHint });
    discrepancies.push(...result.discrepancies);
  }
  const lag = deps.logHead === undefined ? 0 : await deps.logHead.countAfter(checkpoint);
  return report({
    scope: 'all',
    readModelVersion: deps.readModelVersion,
    checkpoint,
    lag,
    customers: replays.size,
    events,
    entries,
    balancesFromEvents,
    balancesFromReadModels,
    discrepancies,
    started,
  });
}

function report(parts: {
  scope: AuditReport['scope'];
  readModelVersion: number | null;
  checkpoint: number | null;
  lag: number;
  customers: number;
  events: number;
  entries: number;
  balancesFromEvents: CurrencyTotals;
  balancesFromReadModels: CurrencyTotals;
  discrepancies: readonly Discrepancy[];
  started: number;
}): AuditReport {
  const durationMs = Math.max(performance.now() - parts.started, 0.001);
  return {
    ok: parts.discrepancies.length === 0,
    scope: parts.scope,
    readModelVersion: parts.readModelVersion,
    checkpoint: parts.checkpoint,
    lag: parts.lag,
    totals: {
      customers: parts.customers,
      events: parts.events,
      entries: parts.entries,
      balancesFromEvents: sorted(parts.balancesFromEvents),
      balancesFromReadModels: sorted(parts.balancesFromReadModels),
      customersWithDiscrepancies: new Set(parts.discrepancies.map((d) => d.customerId)).size,
      discrepancies: parts.discrepancies.length,
    },
    discrepancies: parts.discrepancies,
    durationMs: Math.round(durationMs),
    eventsPerSecond: Math.round((parts.events / durationMs) * 1000),
  };
}

/** Every event of one stream, in revision order. */
export async function readStream(eventStore: EventStore, streamId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const fromRevision = events.length === 0 ? 0 : events[events.length - 1].revision + 1;
    const page = await eventStore.readStream(streamId, { fromRevision, maxCount: STREAM_PAGE });
    events.push(...page);
    if (page.length < STREAM_PAGE) return events;
  }
}

function addTo(totals: CurrencyTotals, currency: string, amount: number): void {
  totals[currency] = (totals[currency] ?? 0) + amount;
}

function sorted(totals: CurrencyTotals): CurrencyTotals {
  return Object.fromEntries(Object.entries(totals).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function forEachConcurrently<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
