import type { WalletView } from '../../../read-models/src/read-model.port.js';

export class ListWalletsQuery {
  constructor(
    readonly businessId: string,
    readonly customerId: string,
  ) {}
}

export interface WalletList {
  readonly wallets: readonly WalletView[];
  /** Sum of every balance converted with the configured rates, in US cents, rounded half away from zero. */
  readonly totalBalanceUsdMinor: number;
}
