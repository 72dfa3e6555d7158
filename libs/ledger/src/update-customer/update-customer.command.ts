import type { Actor } from '../actor.js';

/** Absent fields stay as they are; `phoneNumber: null` clears the number. */
export interface CustomerPatch {
  readonly email?: string;
  readonly name?: string;
  readonly phoneNumber?: string | null;
  readonly metadata?: Readonly<Record<string, string>>;
}

export class UpdateCustomerCommand {
  constructor(
    readonly actor: Actor,
    readonly customerId: string,
    readonly patch: CustomerPatch,
  ) {}
}
