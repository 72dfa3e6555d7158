import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LogController, type FastifyServerOptions } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { LEDGER_METRICS, type LedgerConfig, type LedgerMetrics } from '../../../libs/ledger/src/index.js';
import { AppModule } from './app.module.js';
import { answerMethodNotAllowed } from './http/method-not-allowed.js';
import { mountOpenApi } from './http/openapi.js';

/** Fastify's options from the configuration; the benchmark's ceiling server uses the same. */
export function fastifyOptions(config: LedgerConfig): FastifyServerOptions {
  return {
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    // Ids we mint ourselves: a client-supplied id would let callers forge log correlation.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    routerOptions: { maxParamLength: 200 },
    // pino: one JSON line per request with its id; the key never reaches a log.
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
    },
    // Per-request lines only when debugging: at thousands of requests a second they would dominate the log.
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
  };
}

/** Builds the HTTP app; `main.ts` and the end-to-end tests share it, so tests run the real stack. */
export async function createApp(config: LedgerConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter(fastifyOptions(config));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new ConsoleLogger({ json: true, logLevels: nestLogLevels(config.logLevel) }),
    bufferLogs: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: without this, Fastify would hand text/plain bodies to the validators as strings.
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onSend', async (request, reply) => {
    void reply.headers(securityHeaders(request.url));
    void reply.header('x-request-id', request.id);
  });
  observeRequests(app);
  answerMethodNotAllowed(app, mountOpenApi(app, config));
  return app;
}

/** Headers a JSON API should always send; the docs UI needs its scripts, so it gets a looser policy. */
function securityHeaders(url: string): Record<string, string> {
  const docs = url.startsWith('/docs');
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'content-security-policy': docs
      ? "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
      : "default-src 'none'; frame-ancestors 'none'",
    ...(docs ? {} : { 'cache-control': 'no-store' }),
  };
}

/** Request counts and latency by route template (never the raw URL, which would explode label sets). */
function observeRequests(app: NestFastifyApplication): void {
  const metrics = app.get<LedgerMetrics>(LEDGER_METRICS);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', async (request, reply) => {
      const labels = { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
}

function nestLogLevels(level: LedgerConfig['logLevel']) {
  const order = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
  const cut = { fatal: 1, error: 2, warn: 3, info: 4, debug: 5, trace: 6 }[level];
  return order.slice(0, cut);
}
