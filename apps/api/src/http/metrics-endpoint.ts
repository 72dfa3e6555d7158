import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ErrorBody } from './api-errors.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether a scrape may read the metrics: always without `METRICS_TOKEN`, otherwise only
 * with `Authorization: Bearer <token>` (compared by digest, in constant time).
 */
export function metricsAllowed(token: string | null, authorization: string | undefined): boolean {
  if (token === null) return true;
  if (authorization === undefined || authorization.length > 1024) return false;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization.trim());
  return match !== null && timingSafeEqual(sha256(match[1]), sha256(token));
}

export const METRICS_UNAUTHORIZED: ErrorBody = {
  code: 'UNAUTHORIZED',
  message: 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".',
};

/**
 * Metrics on a listener of their own (`METRICS_PORT`, on `METRICS_HOST`, loopback by
 * default), so the API port can face the world while a local scraper or sidecar reads
 * these. It serves `GET /metrics` and nothing else.
 */
export async function startMetricsServer(options: {
  readonly registry: Registry;
  readonly host: string;
  readonly port: number;
  readonly token: string | null;
}): Promise<Server> {
  const server = createServer((request, response) => {
    void answer(request, response, options.registry, options.token);
  });
  // A scraper has no business holding a connection open or sending a large request.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  registry: Registry,
  token: string | null,
): Promise<void> {
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/metrics') return json(response, 404, { code: 'NOT_FOUND', message: 'Only /metrics is served here.' });
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return json(response, 405, {
      code: 'METHOD_NOT_ALLOWED',
      message: `${request.method} is not supported here; use GET, HEAD.`,
    });
  }
  if (!metricsAllowed(token, request.headers.authorization)) return json(response, 401, METRICS_UNAUTHORIZED);
  try {
    const text = await registry.metrics();
    response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : text);
  } catch {
    json(response, 500, { code: 'INTERNAL_ERROR', message: 'The metrics could not be collected.' });
  }
}

function json(response: ServerResponse, status: number, body: ErrorBody): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-should-retry': 'false' });
  response.end(JSON.stringify(body));
}
