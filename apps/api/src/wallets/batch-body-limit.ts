import type { FastifyInstance } from 'fastify';

export const LEDGER_ENTRIES_BATCH_PATH = '/wallets/ledger-entries/batch';

/**
 * The batch route takes bodies far larger than the global limit (16 KiB by default), and
 * only it does. Nest has no decorator for a route's body limit, so it is set as Fastify
 * registers the route; a route's `bodyLimit` takes precedence over the JSON parser's.
 * Must be called before the app is initialised (routes are registered then).
 */
export function useBatchBodyLimit(fastify: FastifyInstance, bodyLimitBytes: number): void {
  fastify.addHook('onRoute', (route) => {
    if (route.url === LEDGER_ENTRIES_BATCH_PATH) route.bodyLimit = bodyLimitBytes;
  });
}
