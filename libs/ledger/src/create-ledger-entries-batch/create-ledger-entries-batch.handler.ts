import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { DeciderConfig } from '#domain';
import { ledgerEntryCommand, walletViewAfterEntry } from '../create-ledger-entry/ledger-entry-execution.js';
import { newId } from '../ids.js';
import type { LedgerConfig } from '../ledger-config.js';
import { DECIDER_CONFIG, LEDGER_CONFIG, WALLET_EXECUTOR } from '../tokens.js';
import { CommandRunner } from '../write-side/command-runner.js';
import type { WalletCommandExecutor } from '../write-side/wallet-command-executor.js';
import { CreateLedgerEntriesBatchCommand, type BatchEntryOutcome } from './create-ledger-entries-batch.command.js';

/**
 * Submits every customer's entries to the executor at once, so their appends land in
 * the same event-loop turns and the store commits them together (one fsync for many
 * customers). Inside one customer the entries run one after another: an entry is
 * submitted only once the previous one has settled, because the executor retries a
 * command after a conflict with a random backoff, and two entries of one customer in
 * flight together could then be applied out of the order the caller gave.
 *
 * The answer waits once, for the highest position written, instead of once per entry.
 */
@CommandHandler(CreateLedgerEntriesBatchCommand)
export class CreateLedgerEntriesBatchHandler implements ICommandHandler<CreateLedgerEntriesBatchCommand, BatchEntryOutcome[]> {
  constructor(
    @Inject(WALLET_EXECUTOR) private readonly executor: WalletCommandExecutor,
    private readonly runner: CommandRunner,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(DECIDER_CONFIG) private readonly decider: DeciderConfig,
  ) {}

  async execute({ actor, entries }: CreateLedgerEntriesBatchCommand): Promise<BatchEntryOutcome[]> {
    if (entries.length > this.config.batchEntriesMax) {
      throw new RangeError(`a batch takes at most ${this.config.batchEntriesMax} entries (got ${entries.length})`);
    }
    const byCustomer = new Map<string, number[]>();
    entries.forEach(({ customerId }, index) => {
      const indexes = byCustomer.get(customerId);
      if (indexes === undefined) byCustomer.set(customerId, [index]);
      else indexes.push(index);
    });
    const outcomes = new Array<BatchEntryOutcome>(entries.length);
    const context = { correlationId: actor.requestId, actor: actor.keyFingerprint };
    let positionMax: number | null = null;
    await Promise.all(
      [...byCustomer].map(async ([customerId, indexes]) => {
        const resultOf = walletViewAfterEntry(customerId, this.decider);
        for (const index of indexes) {
          try {
            const makeCommand = ledgerEntryCommand(actor, customerId, newId('wle'), entries[index].input);
            const { result, position } = await this.executor.execute(customerId, makeCommand, resultOf, context);
            outcomes[index] = { ok: true, wallet: result };
            if (position !== null && (positionMax === null || position > positionMax)) positionMax = position;
          } catch (error) {
            // One entry's failure is its own result; the customer's next entries still run,
            // as they would if the caller had sent them one request at a time.
            outcomes[index] = { ok: false, error };
          }
        }
      }),
    );
    // Everything applied is stored by now: one wait, for the last of it, as for a single entry.
    await this.runner.awaitVisible(positionMax);
    return outcomes;
  }
}
