import type { WalletState } from '#domain';
import type { CustomerView } from '#read-models';

/** The customer as a command leaves it, in the same shape the read models serve. */
export function customerOf(state: WalletState): CustomerView {
  if (state.customer === null) throw new Error('customer missing after a successful command');
  return { ...state.customer };
}
