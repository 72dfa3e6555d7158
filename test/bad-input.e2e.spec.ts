import { postJson, READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';

/** Hostile and malformed requests: each gets a clear 4xx with a stable code and changes nothing. */
describe(`bad input over HTTP (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  let customerId: string;
  const entries = () => `/customers/${customerId}/wallets/ledger-entries`;

  beforeAll(async () => {
    server = await startTestServer();
    customerId = (await server.sdk().customers.create({ email: 'target@example.com', name: 'Target' })).customer_id;
    await server.sdk().customers.wallets.ledgerEntries.create(customerId, { amount: 100, currency: 'USD', entry_type: 'credit' });
  });
  afterAll(async () => server.close());

  afterEach(async () => {
    // Whatever the bad request was, the wallet and its history are untouched.
    const wallets = await server.sdk().customers.wallets.list(customerId);
    expect(wallets.items.find((w) => w.currency === 'USD')?.balance).toBe(100);
    expect((await server.sdk().customers.wallets.ledgerEntries.list(customerId)).items).toHaveLength(1);
  });

  const valid = { amount: 10, currency: 'USD', entry_type: 'debit' };

  it.each([
    ['amount as a string', { ...valid, amount: '10' }],
    ['amount zero', { ...valid, amount: 0 }],
    ['amount negative', { ...valid, amount: -5 }],
    ['amount fractional', { ...valid, amount: 1.5 }],
    ['amount above MAX_SAFE_INTEGER', { ...valid, amount: 9007199254740992 }],
    ['amount as a huge exponent', '{"amount":1e400,"currency":"USD","entry_type":"debit"}'],
    ['amount missing', { currency: 'USD', entry_type: 'debit' }],
    ['amount null', { ...valid, amount: null }],
    ['amount as an array', { ...valid, amount: [10] }],
    ['amount as an object', { ...valid, amount: { $gt: 0 } }],
    ['amount as a boolean', { ...valid, amount: true }],
    ['currency lower-case', { ...valid, currency: 'usd' }],
    ['currency too long', { ...valid, currency: 'USDX' }],
    ['currency as a number', { ...valid, currency: 840 }],
    ['entry_type unknown', { ...valid, entry_type: 'transfer' }],
    ['entry_type missing', { amount: 10, currency: 'USD' }],
    ['reason too long', { ...valid, reason: 'x'.repeat(501) }],
    ['reason as a number', { ...valid, reason: 42 }],
    ['idempotency_key empty', { ...valid, idempotency_key: '' }],
    ['idempotency_key too long', { ...valid, idempotency_key: 'k'.repeat(256) }],
    ['idempotency_key with spaces', { ...valid, idempotency_key: 'has space' }],
    ['idempotency_key with non-ASCII', { ...valid, idempotency_key: 'ключ' }],
    ['unknown field balance', { ...valid, balance: 1_000_000 }],
    ['unknown field business_id', { ...valid, business_id: 'biz_b' }],
    ['unknown field id', { ...valid, id: 'wle_x' }],
    ['body is an array', [valid]],
    ['body is a string', '"credit"'],
    ['body is null', 'null'],
  ])('refuses %s with 400 VALIDATION_FAILED', async (_label, body) => {
    const response = await postJson(server, entries(), body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('VALIDATION_FAILED');
    expect(typeof response.body.message).toBe('string');
    expect(response.headers.get('x-should-retry')).toBe('false');
  });

  it('refuses an unsupported currency with 400 WALLET.UNSUPPORTED_CURRENCY', async () => {
    const response = await postJson(server, entries(), { ...valid, currency: 'EUR' });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('WALLET.UNSUPPORTED_CURRENCY');
  });

  it.each([
    ['truncated JSON', '{"amount": 10,'],
    ['not JSON at all', 'amount=10'],
    ['empty body', ''],
  ])('refuses %s with 400 MALFORMED_JSON', async (_label, raw) => {
    const response = await postJson(server, entries(), raw);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('MALFORMED_JSON');
  });

  it.each([
    ['a top-level __proto__ key', '{"amount":10,"currency":"USD","entry_type":"debit","__proto__":{"admin":true}}', '__proto__', '__proto__'],
    ['a nested __proto__ key', '{"amount":10,"currency":"USD","entry_type":"debit","reason":{"__proto__":{"x":1}}}', '__proto__', 'reason.__proto__'],
    ['constructor.prototype', '{"amount":10,"currency":"USD","entry_type":"debit","constructor":{"prototype":{"x":1}}}', 'constructor.prototype', 'constructor.prototype'],
  ])('refuses valid JSON with %s as VALIDATION_FAILED naming the key', async (_label, raw, key, path) => {
    // It is valid JSON, so not MALFORMED_JSON; the key is what is refused, and the answer says which.
    const response = await postJson(server, entries(), raw);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('VALIDATION_FAILED');
    expect(response.body.message).toContain(`"${key}"`);
    expect(response.body.details).toEqual({ fields: { [path]: [`the key "${key}" is not allowed`] } });
  });

  it('refuses amount "100" with one message, not three contradictory ones', async () => {
    const response = await postJson(server, entries(), { ...valid, amount: '100' });
    expect(response.status).toBe(400);
    expect(response.body.details).toEqual({ fields: { amount: ['amount must be an integer number of minor units'] } });
    expect(response.body.message).toBe('Invalid request. amount: amount must be an integer number of minor units');
  });

  it.each([
    [0, 'amount must be from 1 to 9007199254740991 minor units'],
    [9007199254740992, 'amount must be from 1 to 9007199254740991 minor units'],
    [1.5, 'amount must be an integer number of minor units'],
    [null, 'amount must be an integer number of minor units'],
  ])('refuses amount %s with exactly one message', async (amount, message) => {
    const response = await postJson(server, entries(), { ...valid, amount });
    expect(response.status).toBe(400);
    expect(response.body.details).toEqual({ fields: { amount: [message] } });
  });

  it('refuses a form-encoded body with 415, like any body that is not JSON', async () => {
    const response = await server.fetch(entries(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'amount=10&currency=USD&entry_type=debit',
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses a body over the size limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const response = await postJson(server, entries(), { ...valid, reason: 'x'.repeat(64 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a non-JSON content type with 415', async () => {
    const response = await server.fetch(entries(), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it.each([
    ['page_size=0'],
    ['page_size=101'],
    ['page_size=-1'],
    ['page_size=abc'],
    ['page_number=-1'],
    ['page_number=1.5'],
    ['page_number=99999999999'],
    ['page_number=1&page_number=2'],
    ['currency=usd'],
    ['unknown=1'],
  ])('refuses history query %s with 400', async (query) => {
    const response = await server.fetch(`${entries()}?${query}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('answers a known path with a method it does not serve with 405 and Allow', async () => {
    for (const method of ['DELETE', 'PUT']) {
      const response = await server.fetch(entries(), { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toContain('POST');
      expect(await response.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    }
    expect((await server.fetch('/no/such/route')).status).toBe(404);
  });

  it('answers an absurd or hostile customer id with 404, never 5xx', async () => {
    for (const id of ['cus_' + 'a'.repeat(150), "cus_1' OR '1'='1", 'cus_%00', '..%2F..%2Fetc', 'cus_ä']) {
      const response = await server.fetch(`/customers/${encodeURIComponent(id)}/wallets`);
      expect([400, 404]).toContain(response.status);
      expect(await response.json()).toHaveProperty('code');
    }
  });

  it('refuses bad customer fields with 400', async () => {
    for (const body of [
      { email: 'not-an-email', name: 'X' },
      { email: 'x@example.com', name: '' },
      { email: 'x@example.com', name: 'x'.repeat(201) },
      { email: 'x@example.com', name: 'X', metadata: { nested: { a: 1 } } },
      { email: 'x@example.com', name: 'X', metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      { email: 'x@example.com', name: 'X', phone_number: 'call me' },
      { email: 'x@example.com', name: 'X', customer_id: 'cus_chosen' },
      { email: 'x@example.com', name: 'X', business_id: 'biz_b' },
    ]) {
      const response = await postJson(server, '/customers', body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION_FAILED');
    }
  });
});
