import type { EntryDirection } from '#domain';
import type { Actor } from '../actor.js';

export interface LedgerEntryInput {
  readonly direction: EntryDirection;
  readonly currency: string;
  readonly amountMinor: number;
  readonly reason: string | null;
  readonly idempotencyKey: string | null;
}

export class CreateLedgerEntryCommand {
  constructor(
    readonly actor: Actor,
    readonly customerId: string,
    readonly input: LedgerEntryInput,
  ) {}
}
