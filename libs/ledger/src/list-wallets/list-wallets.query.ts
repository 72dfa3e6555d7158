import type { WalletView } from '#read-models';

export class ListWalletsQuery {
  constructor(
    readonly businessId: string,
    readonly customerId: string,
  ) {}
}

export interface WalletList {
  readonly wallets: readonly WalletView[];
  /** Sum of every balance converted with the configured rates, in US cents: exact, rounded once, half up; ≤ 2^53 − 1. */
  readonly totalBalanceUsdMinor: number;
}
