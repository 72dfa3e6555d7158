import { KEY_A, KEY_B, startTestServer, type TestServer } from './support/test-server.js';

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

  it('exposes Prometheus metrics by route template, commands, appends and projection lag', async () => {
    const sdk = server.sdk(KEY_B);
    const { customer_id: id } = await sdk.customers.create({ email: 'metrics@example.com', name: 'Metrics' });
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 5, currency: 'USD', entry_type: 'credit' });
    const text = await (await server.fetch('/metrics', { key: null })).text();
    expect(text).toMatch(/http_requests_total\{route="\/customers\/:customer_id\/wallets\/ledger-entries",method="POST",status="200"\} 1/);
    expect(text).toMatch(/ledger_commands_total\{command="RecordLedgerEntry",outcome="applied"\} 1/);
    expect(text).toMatch(/event_store_append_duration_seconds_count\{ok="true"\} [1-9]/);
    expect(text).toMatch(/projection_lag_events 0/);
    expect(text).not.toContain(id);
  });
});
