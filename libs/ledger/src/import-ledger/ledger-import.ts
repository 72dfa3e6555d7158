import { createHash } from 'node:crypto';
import { DomainError, assertNever, walletStreamId, type DeciderConfig } from '#domain';
import type { EventStore } from '#event-store';
import { ledgerEntryCommand } from '../create-ledger-entry/ledger-entry-execution.js';
import { newId } from '../ids.js';
import type { LedgerConfig } from '../ledger-config.js';
import { CommandRetriesExhaustedError, WalletCommandExecutor } from '../write-side/wallet-command-executor.js';
import { ImportLineError, type CustomerRef, type ImportOperation } from './import-line.js';

export const OPENING_BALANCE_REASON = 'import:opening_balance';

export interface ImportLine {
  /** 1-based line number in the file; with the import id it makes the line's idempotency key. */
  readonly number: number;
  readonly text: string;
}

export type LineOutcome =
  | { readonly line: number; readonly status: 'applied' | 'already_applied' }
  | { readonly line: number; readonly status: 'refused'; readonly code: string; readonly message: string };

export interface LedgerImportOptions {
  /** Names this file: every key is derived from it and a line number, so a re-run applies each line once. */
  readonly importId: string;
  readonly businessId: string;
  /** Lines being applied at once; bounds memory whatever the file's size. */
  readonly inFlightMax: number;
  /**
   * Customers whose state stays cached. A file grouped by customer needs few; one that
   * interleaves N customers reloads a customer's stream whenever it was evicted, so it runs
   * fastest with about N (memory grows with this bound, never with the file).
   */
  readonly customersCachedMax: number;
}

/**
 * Applies an import file line by line through the same executor and decider as the API: the
 * same rules, optimistic concurrency against a running API, and idempotency by key. A line's
 * key is `import:<importId>:<line>` (an entry's idempotency key) and a customer's id is derived
 * from the import id and its ref, so re-running an interrupted import applies every line once.
 * (Entry keys are remembered for IDEMPOTENCY_RETENTION_HOURS: resume within that window.)
 *
 * Lines of one customer apply in file order; different customers' lines run concurrently,
 * at most `inFlightMax` at a time, so the store commits many of them together.
 */
export class LedgerImport {
  private readonly executor: WalletCommandExecutor;
  private readonly actor: { businessId: string; keyFingerprint: string; requestId: string };

  constructor(
    private readonly store: EventStore,
    decider: DeciderConfig,
    config: LedgerConfig,
    private readonly options: LedgerImportOptions,
  ) {
    this.executor = new WalletCommandExecutor(store, decider, {
      retriesMax: config.commandRetriesMax,
      appendRetriesMax: 3,
      backoffBaseMs: 2,
      backoffMaxMs: 200,
      // Lanes with work in flight are never evicted, so the cache holds at least the customers in flight.
      streamCacheMax: options.customersCachedMax,
      readPageSize: 1000,
      snapshotEveryEvents: config.snapshotEveryEvents,
      keysCachedMax: config.idempotencyKeysCachedMax,
      clock: () => new Date(),
    });
    this.actor = { businessId: options.businessId, keyFingerprint: 'import', requestId: `import:${options.importId}` };
  }

  /** Customer ids for refs are derived, never stored: nothing grows with the file. */
  customerIdFor(ref: string): string {
    return `cus_${createHash('sha256').update(`${this.options.importId}\u0000customer\u0000${ref}`).digest('hex').slice(0, 24)}`;
  }

  lineKey(line: number): string {
    return `import:${this.options.importId}:${line}`;
  }

  async run(lines: AsyncIterable<ImportLine>, parse: (text: string) => ImportOperation, onOutcome: (outcome: LineOutcome) => void): Promise<void> {
    /** The last line of each customer still in flight; a customer's next line waits for it. */
    const tails = new Map<string, Promise<void>>();
    const inFlight = new Set<Promise<void>>();
    // One waiter for "a task settled", not a race over every task in flight: a race attaches a
    // handler to each of up to `inFlightMax` tasks for every line read.
    let wake: (() => void) | null = null;
    const failures: unknown[] = [];
    for await (const { number, text } of lines) {
      let operation: ImportOperation;
      try {
        operation = parse(text);
      } catch (error) {
        if (!(error instanceof ImportLineError)) throw error;
        onOutcome({ line: number, status: 'refused', code: 'INVALID_LINE', message: error.message });
        continue;
      }
      const customerId = operation.kind === 'customer' ? this.customerIdFor(operation.ref) : this.resolve(operation.customer);
      const previous = tails.get(customerId) ?? Promise.resolve();
      const task: Promise<void> = previous.then(async () => onOutcome(await this.apply(number, customerId, operation)));
      tails.set(customerId, task);
      inFlight.add(task);
      const settle = () => {
        inFlight.delete(task);
        if (tails.get(customerId) === task) tails.delete(customerId);
        wake?.();
        wake = null;
      };
      // A store failure rejects `task` and aborts the run: at the next line, or in the final wait below.
      task.then(settle, (error: unknown) => {
        failures.push(error);
        settle();
      });
      if (inFlight.size >= this.options.inFlightMax) await new Promise<void>((resolve) => (wake = resolve));
      if (failures.length > 0) throw failures[0];
    }
    await Promise.all(inFlight);
  }

  private resolve(customer: CustomerRef): string {
    return 'ref' in customer ? this.customerIdFor(customer.ref) : customer.customerId;
  }

  private async apply(line: number, customerId: string, operation: ImportOperation): Promise<LineOutcome> {
    const key = this.lineKey(line);
    const context = { correlationId: this.actor.requestId, actor: this.actor.keyFingerprint };
    try {
      switch (operation.kind) {
        case 'customer': {
          const { ref: _ref, kind: _kind, ...profile } = operation;
          await this.executor.execute(
            customerId,
            (now) => ({ type: 'CreateCustomer', customerId, businessId: this.actor.businessId, ...profile, now }),
            () => undefined,
            { ...context, metadata: { import_key: key } },
          );
          return { line, status: 'applied' };
        }
        case 'opening_balance':
        case 'entry': {
          const input =
            operation.kind === 'entry'
              ? { direction: operation.direction, currency: operation.currency, amountMinor: operation.amountMinor, reason: operation.reason, idempotencyKey: key }
              : { direction: 'credit' as const, currency: operation.currency, amountMinor: operation.amountMinor, reason: OPENING_BALANCE_REASON, idempotencyKey: key };
          const metadata: Record<string, string> = operation.kind === 'entry' ? { import_key: key, occurred_at: operation.occurredAt } : { import_key: key };
          const entryId = newId('wle');
          // The key's record names the entry that made it: this command's entry, or the original
          // of an earlier run (a replay, which writes nothing).
          const { result: appliedNow } = await this.executor.execute(
            customerId,
            ledgerEntryCommand(this.actor, customerId, entryId, input),
            (state) => state.idempotency.find(key, state.version, 0)?.entryId === entryId,
            { ...context, metadata },
          );
          return { line, status: appliedNow ? 'applied' : 'already_applied' };
        }
        default:
          return assertNever(operation, 'import operation');
      }
    } catch (error) {
      if (error instanceof DomainError) {
        if (error.code === 'CUSTOMER_ALREADY_EXISTS' && (await this.createdBy(customerId, key))) return { line, status: 'already_applied' };
        const message = error.code === 'CUSTOMER_ALREADY_EXISTS' ? `customer ref defined twice in this file (${error.message})` : error.message;
        return { line, status: 'refused', code: error.code, message };
      }
      if (error instanceof CommandRetriesExhaustedError) return { line, status: 'refused', code: 'CONTENTION', message: `${error.message}; re-run the import to retry it` };
      throw error;
    }
  }

  /** Whether the customer's stream was created by this very line (on an earlier run). */
  private async createdBy(customerId: string, key: string): Promise<boolean> {
    const [first] = await this.store.readStream(walletStreamId(customerId), { fromRevision: 0, maxCount: 1 });
    return first?.metadata.import_key === key;
  }
}
