import type { Actor } from '../actor.js';

export interface CustomerInput {
  readonly email: string;
  readonly name: string;
  readonly phoneNumber: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export class CreateCustomerCommand {
  constructor(
    readonly actor: Actor,
    readonly input: CustomerInput,
  ) {}
}
