import { Inject } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { toUsdMinor, type DeciderConfig } from '../../../domain/src/index.js';
import type { ReadModelStore } from '../../../read-models/src/read-model.port.js';
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
    let totalUsdMinor = 0;
    for (const wallet of wallets) {
      const spec = this.decider.currencies.get(wallet.currency);
      // A currency removed from the configuration keeps its balance but has no rate to convert with.
      if (spec !== undefined) totalUsdMinor += toUsdMinor(wallet.balanceMinor, spec);
    }
    return { wallets, totalBalanceUsdMinor: Math.round(totalUsdMinor) };
  }
}
