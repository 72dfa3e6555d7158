import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WalletCommand, WalletState } from '#domain';
import type { Actor } from '../actor.js';
import type { ReadYourWrites } from '../read-side/read-your-writes.js';
import type { LedgerConfig } from '../ledger-config.js';
import { LEDGER_CONFIG, READ_YOUR_WRITES, WALLET_EXECUTOR } from '../tokens.js';
import type { WalletCommandExecutor } from './wallet-command-executor.js';

/**
 * What every command handler does around the decider: execute on the customer's
 * stream, then hold the answer until the read models show the write, so a client
 * that reads right after a success sees it.
 */
@Injectable()
export class CommandRunner {
  private readonly logger = new Logger('CommandRunner');

  constructor(
    @Inject(WALLET_EXECUTOR) private readonly executor: WalletCommandExecutor,
    @Inject(READ_YOUR_WRITES) private readonly readYourWrites: ReadYourWrites,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  async run<R>(
    actor: Actor,
    customerId: string,
    makeCommand: (now: string) => WalletCommand,
    resultOf: (state: WalletState, command: WalletCommand) => R,
  ): Promise<R> {
    const context = { correlationId: actor.requestId, actor: actor.keyFingerprint };
    const { result, position } = await this.executor.execute(customerId, makeCommand, resultOf, context);
    await this.awaitVisible(position);
    return result;
  }

  /**
   * Holds an answer until the read models show `position` (null: nothing new was written). The
   * write is stored: from here on nothing may turn it into an error, or a client's automatic
   * retry could apply it twice. A failed or timed-out wait only delays the answer.
   */
  async awaitVisible(position: number | null): Promise<void> {
    if (position === null) return;
    const shown = await this.readYourWrites.waitFor(position, this.config.readYourWritesTimeoutMs).catch(() => false);
    if (!shown) this.logger.warn(`read models did not reach position ${position} within ${this.config.readYourWritesTimeoutMs} ms`);
  }
}
