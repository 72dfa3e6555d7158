import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LogController, type FastifyHttpOptions } from 'fastify';
import type { Server } from 'node:http';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { LEDGER_METRICS, type LedgerConfig, type LedgerMetrics } from '#ledger';
import { AppModule } from './app.module.js';
import { ConnectionEdges } from './http/connection-edges.js';
import { useStrictJsonParser } from './http/json-body.js';
import { startMetricsServer } from './http/metrics-endpoint.js';
import { answerMethodNotAllowed } from './http/method-not-allowed.js';
import { mountOpenApi } from './http/openapi.js';
import { useBatchBodyLimit } from './wallets/batch-body-limit.js';

/** Fastify's options from the configuration; the benchmark's ceiling server uses the same. */
export function fastifyOptions(config: LedgerConfig, edges = new ConnectionEdges(config.requestTimeoutMs)): FastifyHttpOptions<Server> {
  return {
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    ...edges.fastifyOptions(),
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
  const edges = new ConnectionEdges(config.requestTimeoutMs);
  const adapter = new FastifyAdapter(fastifyOptions(config, edges));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new ConsoleLogger({ json: true, logLevels: nestLogLevels(config.logLevel) }),
    bufferLogs: false,
    // Nest's parsers would add application/x-www-form-urlencoded and Fastify's JSON parser;
    // we accept JSON only, through our own parser (`useStrictJsonParser`).
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // First, so a draining server refuses before any other hook runs.
  edges.install(fastify, app.get<LedgerMetrics>(LEDGER_METRICS).registry);
  // JSON only: without this, Fastify would hand text/plain bodies to the validators as strings.
  fastify.removeContentTypeParser('text/plain');
  useStrictJsonParser(fastify, config.bodyLimitBytes);
  useBatchBodyLimit(fastify, config.batchBodyLimitBytes);
  fastify.addHook('onSend', async (request, reply) => {
    void reply.headers(securityHeaders(request.url));
    void reply.header('x-request-id', request.id);
  });
  observeRequests(app);
  answerMethodNotAllowed(app, mountOpenApi(app, config));
  if (config.metricsPort !== null) {
    const registry = app.get<LedgerMetrics>(LEDGER_METRICS).registry;
    // A port that cannot be bound must not leave the stores and projector of a half-built app running.
    const metricsServer = await startMetricsServer({ registry, host: config.metricsHost, port: config.metricsPort, token: config.metricsToken }).catch(
      async (error: unknown) => {
        await app.close();
        throw error;
      },
    );
    fastify.addHook('onClose', async () => {
      metricsServer.closeAllConnections();
      await new Promise((resolve) => metricsServer.close(resolve));
    });
  }
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
