/** Stable, machine-readable codes. HTTP statuses for them live in exactly one place (the API's error filter). */
export type DomainErrorCode =
  | 'CUSTOMER_NOT_FOUND'
  | 'CUSTOMER_ALREADY_EXISTS'
  | 'WALLET.INSUFFICIENT_BALANCE'
  | 'WALLET.BALANCE_OVERFLOW'
  | 'WALLET.TOTAL_BALANCE_OVERFLOW'
  | 'WALLET.UNSUPPORTED_CURRENCY'
  | 'WALLET.INVALID_AMOUNT'
  | 'IDEMPOTENCY_KEY_REUSED';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Compile-time proof that a switch covered every case. */
export function assertNever(value: never, what: string): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
