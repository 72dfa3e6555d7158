import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { EventStore } from '#event-store';
import { EVENT_STORE, loadLedgerConfig } from '#ledger';
import { createApp } from '../apps/api/src/create-app.js';
import { BIZ_A, KEY_A, KEY_B, startTestServer, type TestServer } from './support/test-server.js';

describe('operations: rate limits, security headers, metrics, health', () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '5' } })));
  afterAll(async () => server.close());

  it('answers 429 with Retry-After once a key spends its burst, without slowing another tenant', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 15; i += 1) {
      const response = await server.fetch('/customers', { key: KEY_A });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(await response.json()).toMatchObject({ code: 'RATE_LIMITED' });
        expect(response.headers.get('x-should-retry')).toBe('false');
      }
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    // At one token a second, even a slow machine cannot refill enough for the rest to pass.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await server.fetch('/customers', { key: KEY_B })).status).toBe(200);
  });

  it('sends security headers and a request id on API answers', async () => {
    const response = await server.fetch('/health', { key: null });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves liveness and readiness without a key', async () => {
    expect(await (await server.fetch('/health/live', { key: null })).json()).toEqual({ status: 'ok' });
    expect(await (await server.fetch('/health/ready', { key: null })).json()).toMatchObject({ status: 'ok' });
  });

  it('readiness checks the event store and the read models, and reports the projection heartbeat and lag', async () => {
    const sdk = server.sdk(KEY_B);
    // A customer, not an entry: the metrics test below counts entries.
    await sdk.customers.create({ email: 'ready@example.com', name: 'Ready' });
    // A finished check answers for a second: wait for a fresh one.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const response = await server.fetch('/health', { key: null });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      projection_checkpoint: number;
      checks: {
        event_store: { ok: boolean; head_position: number };
        read_models: { ok: boolean };
        projection: { ready: boolean; state: string; lagPositions: number; appliedPosition: number; heartbeatAgeMs: number };
      };
    };
    expect(body.checks.event_store.ok).toBe(true);
    expect(body.checks.read_models.ok).toBe(true);
    expect(body.checks.event_store.head_position).toBeGreaterThan(0);
    // Writes answer after their projection (read-your-writes), so the projector is at the head.
    expect(body.checks.projection).toMatchObject({ ready: true, state: 'projecting', lagPositions: 0 });
    expect(body.checks.projection.appliedPosition).toBe(body.checks.event_store.head_position);
    expect(body.projection_checkpoint).toBe(body.checks.event_store.head_position);
    expect(body.checks.projection.heartbeatAgeMs).toBeLessThan(30_000);
  });

  it('exposes Prometheus metrics by route template, commands, appends and projection lag', async () => {
    const sdk = server.sdk(KEY_B);
    const { customer_id: id } = await sdk.customers.create({ email: 'metrics@example.com', name: 'Metrics' });
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 5, currency: 'USD', entry_type: 'credit' });
    const text = await (await server.fetch('/metrics', { key: null })).text();
    expect(text).toMatch(
      /http_requests_total\{route="\/customers\/:customer_id\/wallets\/ledger-entries",method="POST",status="200"\} 1/,
    );
    expect(text).toMatch(/ledger_commands_total\{command="RecordLedgerEntry",outcome="applied"\} 1/);
    expect(text).toMatch(/event_store_append_duration_seconds_count\{ok="true"\} [1-9]/);
    expect(text).toMatch(/projection_lag_events 0/);
    expect(text).not.toContain(id);
  });
});

describe('readiness when the event store stops answering', () => {
  let app: NestFastifyApplication;
  let dataDir: string;
  let baseURL: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-ready-'));
    const config = loadLedgerConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      API_KEYS: `${KEY_A}:${BIZ_A}`,
      LOG_LEVEL: 'error',
      MONGODB_URL: '',
    });
    app = await createApp(config);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 NOT_READY within the deadline while liveness stays 200', async () => {
    expect((await fetch(`${baseURL}/health`)).status).toBe(200);
    // A store that hangs (a partitioned EventStoreDB node, say): the check must not hang with it.
    const store = app.get<EventStore>(EVENT_STORE);
    const headPosition = store.headPosition?.bind(store);
    store.headPosition = () => new Promise(() => undefined);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const started = performance.now();
      const response = await fetch(`${baseURL}/health/ready`);
      expect(performance.now() - started).toBeLessThan(4_000);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { code: string; message: string; checks: { event_store: { ok: boolean } } };
      expect(body.code).toBe('NOT_READY');
      expect(body.message).toMatch(/^Not ready: event store: head position: no answer within 2000 ms/);
      expect(body.checks.event_store.ok).toBe(false);
      const live = await fetch(`${baseURL}/health/live`);
      expect(live.status).toBe(200);
    } finally {
      store.headPosition = headPosition;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await fetch(`${baseURL}/health`)).status).toBe(200);
  });
});
