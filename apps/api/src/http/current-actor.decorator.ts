import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Actor } from '#ledger';
import { UnauthorizedError } from './api-errors.js';
import type { AuthedRequest } from './auth.guard.js';

/** The authenticated caller, set by `ApiKeyGuard`. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<AuthedRequest>().actor;
  if (actor === undefined) throw new UnauthorizedError('Missing API key.');
  return actor;
});
