import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Actor, ApiKeyGrant } from '#ledger';
import { RateLimitedError, UnauthorizedError } from './api-errors.js';
import type { RateLimiter } from './rate-limiter.js';

const PUBLIC_ROUTE = 'publicRoute';
/** Marks a route that needs no API key (health, the OpenAPI document). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export type AuthedRequest = FastifyRequest & { actor?: Actor };

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** Short, non-secret fingerprint of a key for logs and event metadata. */
export const keyFingerprint = (key: string) => `key_${sha256(key).slice(0, 12)}`;

/**
 * Bearer-key authentication. Keys are looked up by their SHA-256 digest, so the
 * comparison never touches the secret byte by byte (no timing leak of how much of a
 * guessed key matched), and the key itself is never stored or logged.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly grants: Map<string, ApiKeyGrant>;

  constructor(
    private readonly reflector: Reflector,
    grants: readonly ApiKeyGrant[],
    private readonly limiter: RateLimiter,
  ) {
    this.grants = new Map(grants.map((grant) => [sha256(grant.key), grant]));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const key = bearerToken(request.headers.authorization);
    if (key === null) throw new UnauthorizedError('Send your API key as "Authorization: Bearer <key>".');
    const grant = this.grants.get(sha256(key));
    if (grant === undefined) throw new UnauthorizedError('The API key is not valid.');
    const waitSeconds = this.limiter.take(grant.key);
    if (waitSeconds > 0) throw new RateLimitedError(waitSeconds);
    request.actor = { businessId: grant.businessId, keyFingerprint: keyFingerprint(key), requestId: String(request.id) };
    return true;
  }
}

function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length > 1024) return null;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim());
  return match ? match[1] : null;
}
