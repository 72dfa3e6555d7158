import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MalformedJsonError, RequestValidationError } from './api-errors.js';

/** Nesting deeper than any of our bodies allows is refused before it is walked. */
const JSON_DEPTH_MAX = 32;

/**
 * Our JSON body parser, in place of Fastify's. Fastify refuses prototype-poisoning keys
 * too, but as "not valid JSON", which is wrong (it is valid JSON) and does not say which
 * key. Here `JSON.parse` reads the body (it keeps `__proto__` as a plain own property, so
 * nothing is polluted) and the result is then checked for the keys that would poison an
 * object later merged into another: `__proto__`, and `constructor` holding `prototype`.
 */
export function useStrictJsonParser(fastify: FastifyInstance, bodyLimitBytes: number): void {
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: bodyLimitBytes },
    (_request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void) => {
      try {
        done(null, parseStrictJson(typeof body === 'string' ? body : body.toString('utf8')));
      } catch (error) {
        done(error as Error);
      }
    },
  );
}

export function parseStrictJson(text: string): unknown {
  if (text.trim() === '') throw new MalformedJsonError('The JSON body is empty.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedJsonError('The request body is not valid JSON.');
  }
  const forbidden = findForbiddenKey(value, '', 0);
  if (forbidden !== null) {
    throw new RequestValidationError(`The key "${forbidden.key}" is not allowed in a request body (at ${forbidden.path}).`, {
      fields: { [forbidden.path]: [`the key "${forbidden.key}" is not allowed`] },
    });
  }
  return value;
}

function findForbiddenKey(value: unknown, path: string, depth: number): { key: string; path: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth > JSON_DEPTH_MAX)
    throw new RequestValidationError(`The request body is nested deeper than ${JSON_DEPTH_MAX} levels.`);
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    if (key === '__proto__') return { key, path: childPath };
    if (key === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) {
      return { key: 'constructor.prototype', path: `${childPath}.prototype` };
    }
    const found = findForbiddenKey(child, childPath, depth + 1);
    if (found !== null) return found;
  }
  return null;
}
