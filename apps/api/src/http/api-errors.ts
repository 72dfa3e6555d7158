/**
 * Errors raised in the HTTP layer itself (auth, request shape). Domain errors come
 * from the domain; both are turned into responses in one place, `ApiErrorFilter`.
 */
export class RequestValidationError extends Error {
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RequestValidationError';
  }
}

export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export class RateLimitedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many requests for this API key; slow down and retry after the Retry-After delay.');
    this.name = 'RateLimitedError';
  }
}

/** A body that is not JSON at all (as opposed to JSON of the wrong shape, which is `RequestValidationError`). */
export class MalformedJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedJsonError';
  }
}
