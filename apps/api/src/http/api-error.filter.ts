import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode } from '#domain';
import { CommandRetriesExhaustedError } from '#ledger';
import { MalformedJsonError, RateLimitedError, RequestValidationError, UnauthorizedError, type ErrorBody } from './api-errors.js';

/** The single mapping from domain error codes to HTTP statuses (the batch route's per-entry results use it too). */
export const DOMAIN_STATUS: Readonly<Record<DomainErrorCode, number>> = {
  CUSTOMER_NOT_FOUND: 404,
  // Not 409: the SDK would retry, and a retry cannot fix it.
  CUSTOMER_ALREADY_EXISTS: 422,
  'WALLET.INSUFFICIENT_BALANCE': 400,
  'WALLET.BALANCE_OVERFLOW': 422,
  'WALLET.TOTAL_BALANCE_OVERFLOW': 422,
  'WALLET.UNSUPPORTED_CURRENCY': 400,
  'WALLET.INVALID_AMOUNT': 400,
  IDEMPOTENCY_KEY_REUSED: 422,
};

/** Errors Fastify raises before a route runs (body parsing, limits), by their `code`. */
const FASTIFY_ERRORS: Readonly<Record<string, { status: number; code: string; message: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send the request body as application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'MALFORMED_JSON', message: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST', message: 'Content-Length does not match the body.' },
};

const HTTP_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (isClientAbort(exception, request)) {
      // The client hung up mid-request: not our error, and anyone can do it at will, so
      // no error line and no stack (it is counted in http_client_aborts_total). Nobody is
      // left to read an answer; one is sent only so the request completes.
      this.logger.debug(`client closed the connection before the request was complete: ${request.method} ${request.routeOptions.url ?? 'unmatched'} (request ${request.id})`);
      void reply.status(400).send(errorBody('CLIENT_CLOSED_REQUEST', 'The client closed the connection before the request was complete.'));
      return;
    }
    const { status, body } = this.toResponse(exception);
    if (exception instanceof RateLimitedError) void reply.header('retry-after', String(exception.retryAfterSeconds));
    if (status >= 500) this.logger.error(body.message, exception instanceof Error ? exception.stack : String(exception));
    // The official SDK retries 409/5xx on its own; a 4xx here is final, and we say so.
    if (status < 500) void reply.header('x-should-retry', 'false');
    // An unexpected failure of a write may have happened after the write was stored: a blind
    // retry of a key-less entry could apply it twice. (503 CONTENTION wrote nothing: retry away.)
    const method = request.method;
    if (status === 500 && method !== 'GET' && method !== 'HEAD') void reply.header('x-should-retry', 'false');
    // Always JSON, even where the route declared another type for its success answer (/metrics).
    void reply.status(status).type('application/json; charset=utf-8').send(body);
  }

  private toResponse(exception: unknown): { status: number; body: ErrorBody } {
    if (exception instanceof DomainError) return domainErrorResponse(exception);
    if (exception instanceof MalformedJsonError) {
      return { status: 400, body: errorBody('MALFORMED_JSON', exception.message) };
    }
    if (exception instanceof RequestValidationError) {
      return { status: 400, body: errorBody('VALIDATION_FAILED', exception.message, exception.details) };
    }
    if (exception instanceof UnauthorizedError) {
      return { status: 401, body: errorBody('UNAUTHORIZED', exception.message) };
    }
    if (exception instanceof RateLimitedError) {
      return { status: 429, body: errorBody('RATE_LIMITED', exception.message, { retry_after_seconds: exception.retryAfterSeconds }) };
    }
    if (exception instanceof CommandRetriesExhaustedError) {
      return { status: 503, body: errorBody('CONTENTION', 'The customer is too busy right now; retry the request.') };
    }
    const fastify = fastifyError(exception);
    if (fastify !== undefined) return { status: fastify.status, body: errorBody(fastify.code, fastify.message) };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const message = status === 404 ? 'No such route.' : exception.message;
      return { status, body: errorBody(HTTP_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'), message) };
    }
    return { status: 500, body: errorBody('INTERNAL_ERROR', 'Something went wrong on our side; the request may be retried.') };
  }
}

function fastifyError(thrown: unknown): { status: number; code: string; message: string } | undefined {
  // Nest wraps Fastify's 4xx errors in an HttpException and keeps the original as `cause`.
  const exception = thrown instanceof HttpException && thrown.cause !== undefined ? thrown.cause : thrown;
  if (typeof exception !== 'object' || exception === null) return undefined;
  const { code, statusCode } = exception as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'string' && code in FASTIFY_ERRORS) return FASTIFY_ERRORS[code];
  // JSON.parse failures surface as a SyntaxError with a 400 status.
  if (exception instanceof SyntaxError && statusCode === 400) return FASTIFY_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY;
  return undefined;
}

/**
 * A request whose client went away: Node fails the body stream with "aborted"
 * (ECONNRESET) and marks the request aborted. The code alone is not enough, since a
 * store's connection can be reset too, and that one is ours.
 */
function isClientAbort(exception: unknown, request: FastifyRequest): boolean {
  const error = exception instanceof HttpException && exception.cause !== undefined ? exception.cause : exception;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'ECONNRESET' && (request.raw.aborted || request.raw.socket.destroyed);
}

/** A domain error's status and body: the one mapping, for whole requests and for a batch's entries. */
export function domainErrorResponse(error: DomainError): { status: number; body: ErrorBody } {
  return { status: DOMAIN_STATUS[error.code], body: errorBody(error.code, error.message, error.details) };
}

function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return details === undefined ? { code, message } : { code, message, details };
}
