import { decodeWalletEvent, evolve, initialWalletState, type DeciderConfig, type WalletEvent, type WalletState } from '#domain';
import type { RecordedEvent } from '#event-store';
import { type LedgerEntryView, projectDecoded } from '#read-models';
import type { Discrepancy } from './audit.types.js';
import { EntryDigest } from './entry-digest.js';

/**
 * Evolve needs a configuration only for idempotency-key retention. The audit does not
 * answer commands, so it keeps no keys: retention 0 lets each state forget them at once,
 * and replaying a whole log stays small in memory.
 */
export const AUDIT_DECIDER: DeciderConfig = { currencies: new Map(), idempotencyRetentionMs: 0 };

export interface ExpectedWallet {
  readonly currency: string;
  readonly balanceMinor: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What one customer's events say, recomputed from scratch: balances with the pure domain
 * (`evolve`), ledger history with before/after balances with the pure projection. Either
 * keeps every expected entry (to report entry by entry) or only a digest of them (to
 * sweep a whole log in little memory).
 */
export class CustomerReplay {
  private state: WalletState = initialWalletState();
  /** Every event handed in, including those after an undecodable one. */
  events = 0;
  entryCount = 0;
  /** Set by an event that could not be decoded or applied: later events cannot be verified. */
  broken = false;
  lastPosition: number | null = null;
  readonly problems: Discrepancy[] = [];
  readonly entries: LedgerEntryView[] | null;
  readonly digest = new EntryDigest();

  constructor(
    readonly customerId: string,
    keepEntries: boolean,
  ) {
    this.entries = keepEntries ? [] : null;
  }

  get businessId(): string | null {
    return this.state.customer?.businessId ?? null;
  }

  get profile(): WalletState['customer'] {
    return this.state.customer;
  }

  wallets(): ExpectedWallet[] {
    return [...this.state.wallets.values()].map((w) => ({
      currency: w.currency,
      balanceMinor: w.balanceMinor,
      createdAt: w.openedAt,
      updatedAt: w.updatedAt,
    }));
  }

  apply(recorded: RecordedEvent): void {
    this.events += 1;
    this.lastPosition = recorded.position;
    if (this.broken) return;
    let event: WalletEvent;
    try {
      event = decodeWalletEvent(recorded);
    } catch (error) {
      this.fail(
        recorded,
        `cannot decode ${recorded.type} v${recorded.schemaVersion} at revision ${recorded.revision}: ${message(error)}`,
      );
      return;
    }
    if (recorded.revision !== this.state.version) {
      this.problems.push({
        customerId: this.customerId,
        currency: null,
        kind: 'event.chain',
        field: 'revision',
        expected: this.state.version,
        actual: recorded.revision,
        message: `stream revision ${recorded.revision} where ${this.state.version} was next`,
      });
    }
    const op = projectDecoded(event, recorded.revision, recorded.position);
    if (op.kind === 'entry.add') this.checkChain(op.entry);
    try {
      this.state = evolve(this.state, event, AUDIT_DECIDER);
    } catch (error) {
      this.fail(recorded, `cannot apply ${recorded.type} at revision ${recorded.revision}: ${message(error)}`);
      return;
    }
    if (op.kind !== 'entry.add') return;
    this.entryCount += 1;
    if (this.entries !== null) this.entries.push(op.entry);
    else this.digest.addEntry(op.entry);
  }

  /** An entry's balance before must be the wallet's balance after the previous entry, and never negative after. */
  private checkChain(entry: LedgerEntryView): void {
    const previous = this.state.wallets.get(entry.currency)?.balanceMinor ?? 0;
    if (entry.beforeBalanceMinor !== previous) {
      this.problems.push({
        customerId: this.customerId,
        currency: entry.currency,
        kind: 'event.chain',
        entryId: entry.id,
        field: 'beforeBalance',
        expected: previous,
        actual: entry.beforeBalanceMinor,
        message: `entry ${entry.id} starts from ${entry.beforeBalanceMinor} but the balance before it was ${previous}`,
      });
    }
    if (entry.afterBalanceMinor < 0) {
      this.problems.push({
        customerId: this.customerId,
        currency: entry.currency,
        kind: 'event.chain',
        entryId: entry.id,
        field: 'afterBalance',
        expected: '>= 0',
        actual: entry.afterBalanceMinor,
        message: `entry ${entry.id} leaves a negative balance`,
      });
    }
  }

  private fail(recorded: RecordedEvent, text: string): void {
    this.broken = true;
    this.problems.push({
      customerId: this.customerId,
      currency: null,
      kind: 'event.undecodable',
      field: `revision ${recorded.revision}`,
      expected: 'an event this build can decode and apply',
      actual: { type: recorded.type, schemaVersion: recorded.schemaVersion, position: recorded.position },
      message: `${text}; the rest of the stream is not verified`,
    });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
