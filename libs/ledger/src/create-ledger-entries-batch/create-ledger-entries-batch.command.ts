import type { WalletView } from '#read-models';
import type { Actor } from '../actor.js';
import type { LedgerEntryInput } from '../create-ledger-entry/create-ledger-entry.command.js';

export interface BatchLedgerEntry {
  readonly customerId: string;
  readonly input: LedgerEntryInput;
}

/** One entry's outcome: the wallet right after it (or after the original, on a replayed key), or why it was not applied. */
export type BatchEntryOutcome =
  | { readonly ok: true; readonly wallet: WalletView }
  | { readonly ok: false; readonly error: unknown };

/**
 * Many independent ledger entries in one call. Each has the single entry's rules and
 * fails alone; entries of one customer apply in the order given. Not a transaction.
 */
export class CreateLedgerEntriesBatchCommand {
  constructor(
    readonly actor: Actor,
    readonly entries: readonly BatchLedgerEntry[],
  ) {}
}
