import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { walletAfterEntry, type DeciderConfig, type RecordLedgerEntry } from '#domain';
import type { WalletView } from '#read-models';
import { newId } from '../ids.js';
import { DECIDER_CONFIG } from '../tokens.js';
import { CommandRunner } from '../write-side/command-runner.js';
import { CreateLedgerEntryCommand } from './create-ledger-entry.command.js';

@CommandHandler(CreateLedgerEntryCommand)
export class CreateLedgerEntryHandler implements ICommandHandler<CreateLedgerEntryCommand, WalletView> {
  constructor(
    private readonly runner: CommandRunner,
    @Inject(DECIDER_CONFIG) private readonly decider: DeciderConfig,
  ) {}

  execute({ actor, customerId, input }: CreateLedgerEntryCommand): Promise<WalletView> {
    const entryId = newId('wle');
    return this.runner.run(
      actor,
      customerId,
      (now): RecordLedgerEntry => ({ type: 'RecordLedgerEntry', customerId, businessId: actor.businessId, entryId, ...input, now }),
      (state, command) => {
        const wallet = walletAfterEntry(command as RecordLedgerEntry, state, this.decider);
        return { customerId, currency: wallet.currency, balanceMinor: wallet.balanceMinor, createdAt: wallet.openedAt, updatedAt: wallet.updatedAt };
      },
    );
  }
}
