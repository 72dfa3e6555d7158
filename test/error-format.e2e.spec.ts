import { KEY_A, READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';
import { RawConnection, requestHead, type RawResponse } from './support/raw-http.js';

const ADMIN_KEY = 'sk_admin_errors_0001';
const UNKNOWN_CUSTOMER = 'cus_000000000000000000000000';

type Operation = { security?: unknown[]; requestBody?: unknown; parameters?: Array<{ in: string; name: string }> };

/** Checks one answer against the error contract: `{code, message, details?}` as JSON, and no retry on a 4xx. */
function expectErrorFormat(
  response: { status: number; headers: Record<string, string>; body: string },
  status: number,
  code: string,
): void {
  expect({ status: response.status, code: safeJson(response.body)?.code }).toEqual({ status, code });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(Object.keys(body).filter((key) => !['code', 'message', 'details'].includes(key))).toEqual([]);
  expect(body.code).toMatch(/^[A-Z][A-Z_.]*$/);
  expect(typeof body.message).toBe('string');
  expect((body.message as string).length).toBeGreaterThan(0);
  if (body.details !== undefined) expect(typeof body.details).toBe('object');
  if (status < 500) expect(response.headers['x-should-retry']).toBe('false');
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function viaFetch(server: TestServer, path: string, init: RequestInit & { key?: string | null } = {}) {
  const response = await server.fetch(path, init);
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

describe(`one error format everywhere (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  let port: number;
  let operations: Array<{ path: string; method: string; operation: Operation }>;

  beforeAll(async () => {
    server = await startTestServer({ env: { ADMIN_API_KEYS: ADMIN_KEY } });
    port = Number(new URL(server.baseURL).port);
    const document = (await (await server.fetch('/openapi.json')).json()) as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
    );
  });
  afterAll(async () => server.close());

  const largestBodyLimitBytes = () => Math.max(server.config.bodyLimitBytes, server.config.batchBodyLimitBytes);
  const concrete = (path: string) => path.replace('{customer_id}', UNKNOWN_CUSTOMER);
  const keyFor = (path: string) => (path.startsWith('/admin') ? ADMIN_KEY : KEY_A);

  /**
   * Every documented route with every error it can give before or instead of its work:
   * no key, unknown customer, invalid body, malformed JSON, wrong media type, too large,
   * invalid query, wrong method. The routes come from the OpenAPI document, so a route
   * added later is covered without touching this table.
   */
  function errorTable(): Array<[string, string, RequestInit & { key?: string | null }, number, string]> {
    const rows: Array<[string, string, RequestInit & { key?: string | null }, number, string]> = [];
    for (const { path, method, operation } of operations) {
      const url = concrete(path);
      const label = `${method} ${path}`;
      if ((operation.security ?? []).length > 0) rows.push([`${label}: no key`, url, { method, key: null }, 401, 'UNAUTHORIZED']);
      if (path.includes('{customer_id}')) {
        const valid = path.endsWith('ledger-entries')
          ? '{"amount":1,"currency":"USD","entry_type":"credit"}'
          : '{"name":"Valid"}';
        const body = operation.requestBody ? { headers: { 'content-type': 'application/json' }, body: valid } : {};
        rows.push([`${label}: unknown customer`, url, { method, key: keyFor(path), ...body }, 404, 'CUSTOMER_NOT_FOUND']);
      }
      if (operation.requestBody) {
        const json = { 'content-type': 'application/json' };
        rows.push([
          `${label}: invalid body`,
          url,
          { method, headers: json, body: '{"unknown_field":1}' },
          400,
          'VALIDATION_FAILED',
        ]);
        rows.push([`${label}: malformed JSON`, url, { method, headers: json, body: '{"a":' }, 400, 'MALFORMED_JSON']);
        rows.push([
          `${label}: __proto__ key`,
          url,
          { method, headers: json, body: '{"__proto__":{}}' },
          400,
          'VALIDATION_FAILED',
        ]);
        rows.push([
          `${label}: text/plain`,
          url,
          { method, headers: { 'content-type': 'text/plain' }, body: 'hi' },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ]);
        rows.push([
          `${label}: too large`,
          url,
          // Above every route's limit (the batch route has a larger one of its own).
          { method, headers: json, body: JSON.stringify({ reason: 'x'.repeat(largestBodyLimitBytes()) }) },
          413,
          'PAYLOAD_TOO_LARGE',
        ]);
      }
      if ((operation.parameters ?? []).some((p) => p.in === 'query' && p.name === 'page_size')) {
        rows.push([`${label}: invalid query`, `${url}?page_size=0`, { method, key: keyFor(path) }, 400, 'VALIDATION_FAILED']);
      }
      const wrong = ['DELETE', 'PUT'].find((m) => !operations.some((o) => o.path === path && o.method === m))!;
      rows.push([`${label}: method ${wrong}`, url, { method: wrong, key: keyFor(path) }, 405, 'METHOD_NOT_ALLOWED']);
    }
    return rows;
  }

  it('covers every documented route, with at least one error each', () => {
    const routes = new Set(operations.map((o) => `${o.method} ${o.path}`));
    // The contract's routes plus ours; the document must not lose any of them quietly.
    for (const route of [
      'GET /customers',
      'POST /customers',
      'GET /customers/{customer_id}',
      'PATCH /customers/{customer_id}',
      'GET /customers/{customer_id}/wallets',
      'GET /customers/{customer_id}/wallets/ledger-entries',
      'POST /customers/{customer_id}/wallets/ledger-entries',
      'GET /admin/customers/{customer_id}/audit',
      'GET /health',
      'GET /health/live',
    ]) {
      expect(routes).toContain(route);
    }
    const table = errorTable();
    for (const route of routes) expect(table.some(([label]) => label.startsWith(`${route}:`))).toBe(true);
  });

  it('answers every route-level error of every route as {code, message}', async () => {
    const failures: string[] = [];
    for (const [label, url, init, status, code] of errorTable()) {
      const response = await viaFetch(server, url, init);
      try {
        expectErrorFormat(response, status, code);
      } catch (error) {
        failures.push(`${label}: ${response.status} ${response.body.slice(0, 200)} (${(error as Error).message.split('\n')[0]})`);
      }
    }
    expect(failures).toEqual([]);
  });

  it.each([
    ['an unknown route', '/no/such/route', {}, 404, 'NOT_FOUND'],
    [
      'an unknown route with a body',
      '/no/such/route',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      404,
      'NOT_FOUND',
    ],
    ['a business key on an admin route', `/admin/customers/${UNKNOWN_CUSTOMER}/audit`, { key: KEY_A }, 403, 'FORBIDDEN'],
    ['an admin key on a business route', '/customers', { key: ADMIN_KEY }, 401, 'UNAUTHORIZED'],
    ['a customer id that cannot exist', '/customers/not_an_id', {}, 404, 'CUSTOMER_NOT_FOUND'],
    [
      'PATCH with "email": null',
      `/customers/${UNKNOWN_CUSTOMER}`,
      { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"email":null}' },
      400,
      'VALIDATION_FAILED',
    ],
  ] as const)('answers %s as {code, message}', async (_label, path, init, status, code) => {
    expectErrorFormat(await viaFetch(server, path, init as RequestInit), status, code);
  });

  it("answers headers too large to parse with 431 in our format, not Fastify's", async () => {
    const connection = await RawConnection.open(port);
    await connection.write(requestHead('GET', '/health', { 'x-padding': 'p'.repeat(100 * 1024) }));
    const [response] = await connection.responses(1, 5_000);
    expectErrorFormat(response, 431, 'HEADERS_TOO_LARGE');
    expect(response.body).not.toContain('statusCode');
    connection.destroy();
  });

  it('answers a request line that is not HTTP with 400 in our format', async () => {
    const connection = await RawConnection.open(port);
    await connection.write('NOT HTTP AT ALL\r\n\r\n');
    const [response] = await connection.responses(1, 5_000);
    expectErrorFormat(response, 400, 'BAD_REQUEST');
    connection.destroy();
  });

  describe('PATCH /customers/{id} refuses null for fields that cannot be cleared', () => {
    let customerId: string;
    beforeAll(async () => {
      customerId = (await server.sdk().customers.create({ email: 'keep@example.com', name: 'Keep', phone_number: '+15550100' }))
        .customer_id;
    });

    it.each([
      ['email', '{"email":null}'],
      ['name', '{"name":null}'],
    ])('refuses "%s": null with 400 and one message, and changes nothing', async (field, body) => {
      const response = await viaFetch(server, `/customers/${customerId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expectErrorFormat(response, 400, 'VALIDATION_FAILED');
      expect(JSON.parse(response.body).details).toEqual({
        fields: { [field]: [`${field} cannot be null; leave it out to keep the current ${field}`] },
      });
      expect(await server.sdk().customers.retrieve(customerId)).toMatchObject({ email: 'keep@example.com', name: 'Keep' });
    });

    it('still clears phone_number with null, and keeps an absent email', async () => {
      const response = await viaFetch(server, `/customers/${customerId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: '{"phone_number":null}',
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toMatchObject({ email: 'keep@example.com', phone_number: null });
    });
  });
});

describe('framework-level errors that need their own server settings', () => {
  it('answers a body that does not arrive within REQUEST_TIMEOUT_MS with 408 in our format', async () => {
    const server = await startTestServer({ env: { REQUEST_TIMEOUT_MS: '1000' } });
    try {
      const connection = await RawConnection.open(Number(new URL(server.baseURL).port));
      const head = requestHead('POST', '/customers', {
        authorization: `Bearer ${KEY_A}`,
        'content-type': 'application/json',
        'content-length': 100,
      });
      await connection.write(`${head}{"email":`);
      const startedMs = Date.now();
      const [response] = await connection.responses(1, 10_000);
      expectErrorFormat(response, 408, 'REQUEST_TIMEOUT');
      expect(Date.now() - startedMs).toBeGreaterThanOrEqual(900);
      expect(await connection.waitClosed(2_000)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('answers over the rate limit with 429, Retry-After and our format', async () => {
    const server = await startTestServer({ env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '1' } });
    try {
      expect((await server.fetch('/customers')).status).toBe(200);
      const response = await viaFetch(server, '/customers');
      expectErrorFormat(response, 429, 'RATE_LIMITED');
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it('answers a request that arrives while the server drains with 503 in our format', async () => {
    const server = await startTestServer();
    const port = Number(new URL(server.baseURL).port);
    // A request in flight keeps its connection open through the drain...
    const connection = await RawConnection.open(port);
    const body = '{"email":"drain@example.com","name":"Drain"}';
    const head = requestHead('POST', '/customers', {
      authorization: `Bearer ${KEY_A}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    await connection.write(`${head}${body.slice(0, 5)}`);
    // Let the server read the head and start the request (in this same process) before it stops.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopping = server.stop();
    // ...and once the server accepts no new connections, it is draining.
    await waitUntilRefused(port, 10_000);
    // The first request completes; the next one on the same connection is refused.
    await connection.write(`${body.slice(5)}${requestHead('GET', '/health/live', {})}`);
    const responses = await connection.responses(2, 10_000);
    expect(responses).toHaveLength(2);
    expect(responses[0].status).toBe(200);
    expectErrorFormat(responses[1] as RawResponse, 503, 'SERVICE_UNAVAILABLE');
    expect(responses[1].headers.connection).toBe('close');
    await stopping;
    await server.close();
  });
});

async function waitUntilRefused(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const refused = await RawConnection.open(port).then(
      (c) => {
        c.destroy();
        return false;
      },
      () => true,
    );
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`port ${port} still accepted connections after ${timeoutMs} ms`);
}
