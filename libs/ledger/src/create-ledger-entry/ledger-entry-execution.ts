import { walletAfterEntry, type DeciderConfig, type RecordLedgerEntry, type WalletCommand, type WalletState } from '#domain';
import type { WalletView } from '#read-models';
import type { Actor } from '../actor.js';
import type { LedgerEntryInput } from './create-ledger-entry.command.js';

/**
 * The command and the answer of one ledger entry, shared by the single route and the batch
 * route so both apply exactly the same rules and answer with the same wallet.
 */
export function ledgerEntryCommand(actor: Actor, customerId: string, entryId: string, input: LedgerEntryInput) {
  return (now: string): RecordLedgerEntry => ({ type: 'RecordLedgerEntry', customerId, businessId: actor.businessId, entryId, ...input, now });
}

export function walletViewAfterEntry(customerId: string, decider: DeciderConfig) {
  return (state: WalletState, command: WalletCommand): WalletView => {
    const wallet = walletAfterEntry(command as RecordLedgerEntry, state, decider);
    return { customerId, currency: wallet.currency, balanceMinor: wallet.balanceMinor, createdAt: wallet.openedAt, updatedAt: wallet.updatedAt };
  };
}
