import { ForbiddenException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { LEDGER_CONFIG, type LedgerConfig } from '#ledger';
import { UnauthorizedError } from '../http/api-errors.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Admin routes take an ADMIN_API_KEYS key and nothing else. A business key is
 * recognised and refused with 403 (it is valid, just not here); anything else is 401.
 * Keys are compared by SHA-256 digest, as the business guard does. Admin routes are
 * marked `@Public()` so the business-key guard lets them through to this one.
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly admin: Set<string>;
  private readonly business: Set<string>;

  constructor(@Inject(LEDGER_CONFIG) config: LedgerConfig) {
    this.admin = new Set(config.adminApiKeys.map(sha256));
    this.business = new Set(config.apiKeys.map((grant) => sha256(grant.key)));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.admin.size === 0) throw new UnauthorizedError('Admin routes are disabled: ADMIN_API_KEYS is not set.');
    const key = bearerToken(request.headers.authorization);
    if (key === null) throw new UnauthorizedError('Send an admin key as "Authorization: Bearer <key>".');
    const digest = sha256(key);
    if (this.admin.has(digest)) return true;
    if (this.business.has(digest))
      throw new ForbiddenException('This is a business API key; admin routes need an ADMIN_API_KEYS key.');
    throw new UnauthorizedError('The admin key is not valid.');
  }
}

function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length > 1024) return null;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim());
  return match ? match[1] : null;
}
