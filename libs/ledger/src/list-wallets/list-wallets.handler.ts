import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { DomainError, TOTAL_USD_MINOR_MAX, totalUsdMinor, type DeciderConfig } from '#domain';
import type { ReadModelStore, WalletView } from '#read-models';
import { requireCustomer } from '../read-side/require-customer.js';
import { DECIDER_CONFIG, READ_MODELS } from '../tokens.js';
import { ListWalletsQuery, type WalletList } from './list-wallets.query.js';

@QueryHandler(ListWalletsQuery)
export class ListWalletsHandler implements IQueryHandler<ListWalletsQuery, WalletList> {
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
    @Inject(DECIDER_CONFIG) private readonly decider: DeciderConfig,
  ) {}

  async execute({ businessId, customerId }: ListWalletsQuery): Promise<WalletList> {
    await requireCustomer(this.readModels, businessId, customerId);
    const wallets = await this.readModels.listWallets(customerId);
    // Exact, rounded once (see totalUsdMinor). A currency removed from the configuration keeps
    // its balance but has no rate to convert with, so it is left out.
    return { wallets, totalBalanceUsdMinor: reportableTotalUsdMinor(wallets, this.decider) };
  }
}

/**
 * The decider refuses credits that would take the total past 2^53 − 1, so this only fails
 * when the rates were raised after the balances were written: then the total is refused
 * rather than reported as a number JSON would round.
 */
function reportableTotalUsdMinor(wallets: readonly WalletView[], decider: DeciderConfig): number {
  const total = totalUsdMinor(wallets, decider.currencies);
  if (total > TOTAL_USD_MINOR_MAX) {
    throw new DomainError(
      'WALLET.TOTAL_BALANCE_OVERFLOW',
      'The total of this customer\'s balances in USD is above 2^53 − 1 cents under the current rates and cannot be reported exactly.',
      { max_total_balance_usd: Number.MAX_SAFE_INTEGER },
    );
  }
  return Number(total);
}
