import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { DeciderConfig } from '#domain';
import type { WalletView } from '#read-models';
import { newId } from '../ids.js';
import { DECIDER_CONFIG } from '../tokens.js';
import { CommandRunner } from '../write-side/command-runner.js';
import { CreateLedgerEntryCommand } from './create-ledger-entry.command.js';
import { ledgerEntryCommand, walletViewAfterEntry } from './ledger-entry-execution.js';

@CommandHandler(CreateLedgerEntryCommand)
export class CreateLedgerEntryHandler implements ICommandHandler<CreateLedgerEntryCommand, WalletView> {
  constructor(
    private readonly runner: CommandRunner,
    @Inject(DECIDER_CONFIG) private readonly decider: DeciderConfig,
  ) {}

  execute({ actor, customerId, input }: CreateLedgerEntryCommand): Promise<WalletView> {
    return this.runner.run(actor, customerId, ledgerEntryCommand(actor, customerId, newId('wle'), input), walletViewAfterEntry(customerId, this.decider));
  }
}
