import type { ReadModelStore } from '#read-models';
import type { WalletProjector } from './wallet-projector.js';

/** Waits, with a bound, until the read models show a write. */
export interface ReadYourWrites {
  waitFor(position: number, timeoutMs: number): Promise<boolean>;
}

/** The projector runs in this process: wake on its progress, no polling. */
export function inProcessReadYourWrites(projector: WalletProjector): ReadYourWrites {
  return { waitFor: (position, timeoutMs) => projector.waitFor(position, timeoutMs) };
}

/** The projector is another process: poll the checkpoint the read models store. */
export function pollingReadYourWrites(readModels: ReadModelStore, pollMs: number): ReadYourWrites {
  return {
    async waitFor(position, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const checkpoint = await readModels.checkpoint();
        if (checkpoint !== null && checkpoint >= position) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
  };
}
