import { KEY_B, READ_MODEL_BACKEND, postJson, startTestServer, type TestServer } from './support/test-server.js';

const BATCH = '/wallets/ledger-entries/batch';

interface EntryResult {
  index: number;
  status: number;
  wallet?: { balance: number; currency: string; customer_id: string };
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

describe(`POST ${BATCH} (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ env: { BATCH_ENTRIES_MAX: '50', BATCH_BODY_LIMIT_BYTES: '65536' } })));
  afterAll(async () => server.close());

  async function newCustomer(key?: string): Promise<string> {
    return (await server.sdk(key).customers.create({ email: 'buyer@example.com', name: 'Buyer' })).customer_id;
  }

  async function batch(entries: unknown[], key?: string): Promise<EntryResult[]> {
    const response = await postJson(server, BATCH, { entries }, key);
    expect(response.status).toBe(200);
    const results = response.body.results as EntryResult[];
    expect(results.map((r) => r.index)).toEqual(entries.map((_, i) => i));
    return results;
  }

  async function usdBalance(customerId: string): Promise<number | undefined> {
    return (await server.sdk().customers.wallets.list(customerId)).items.find((w) => w.currency === 'USD')?.balance;
  }

  it('applies valid entries and answers invalid ones alone, in request order, with reads seeing every write at once', async () => {
    const [a, b] = [await newCustomer(), await newCustomer()];
    const results = await batch([
      { customer_id: a, amount: 500, currency: 'USD', entry_type: 'credit', reason: 'top-up' },
      { customer_id: b, amount: '10', currency: 'USD', entry_type: 'credit' },
      { customer_id: b, amount: 70, currency: 'USD', entry_type: 'credit' },
      { customer_id: a, amount: 5, currency: 'XXX', entry_type: 'credit' },
      { customer_id: a, amount: 100, currency: 'USD', entry_type: 'debit' },
      'not an entry',
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 400, 200, 400, 200, 400]);
    expect(results[0].wallet).toMatchObject({ balance: 500, currency: 'USD', customer_id: a });
    expect(results[1].error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'Invalid request. amount: amount must be an integer number of minor units' });
    expect(results[2].wallet).toMatchObject({ balance: 70, customer_id: b });
    expect(results[3].error?.code).toBe('WALLET.UNSUPPORTED_CURRENCY');
    expect(results[4].wallet?.balance).toBe(400);
    expect(results[5].error?.code).toBe('VALIDATION_FAILED');
    // Read-your-writes for the whole batch: no polling.
    expect(await usdBalance(a)).toBe(400);
    expect(await usdBalance(b)).toBe(70);
    const history = await server.sdk().customers.wallets.ledgerEntries.list(a);
    expect(history.items.map((e) => [e.amount, e.is_credit, e.after_balance])).toEqual([[100, false, 400], [500, true, 500]]);
  });

  it('applies one customer\'s entries in array order: an overdraft mid-run is refused and the run goes on', async () => {
    const id = await newCustomer();
    const amounts = [['credit', 100], ['debit', 60], ['debit', 50], ['credit', 10], ['debit', 50], ['debit', 1]] as const;
    const results = await batch(amounts.map(([entry_type, amount]) => ({ customer_id: id, amount, currency: 'USD', entry_type })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 400, 200, 200, 400]);
    expect(results.map((r) => r.wallet?.balance ?? r.error?.code)).toEqual([
      100, 40, 'WALLET.INSUFFICIENT_BALANCE', 50, 0, 'WALLET.INSUFFICIENT_BALANCE',
    ]);
    expect(await usdBalance(id)).toBe(0);
    expect((await server.sdk().customers.wallets.ledgerEntries.list(id, { page_size: 100 })).items).toHaveLength(4);
  });

  it('honours idempotency keys inside one batch and across batches, and refuses a key reused for another entry', async () => {
    const id = await newCustomer();
    const entry = { customer_id: id, amount: 300, currency: 'USD', entry_type: 'credit', idempotency_key: 'meter-1' };
    const first = await batch([entry, entry, { ...entry, amount: 301 }, { ...entry, idempotency_key: 'meter-2', amount: 5 }]);
    expect(first.map((r) => r.status)).toEqual([200, 200, 422, 200]);
    expect(first[0].wallet?.balance).toBe(300);
    // The replay answers with the wallet as the original left it.
    expect(first[1].wallet?.balance).toBe(300);
    expect(first[2].error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(first[3].wallet?.balance).toBe(305);

    const again = await batch([entry, { ...entry, idempotency_key: 'meter-2', amount: 5 }, { ...entry, entry_type: 'debit' }]);
    expect(again.map((r) => r.status)).toEqual([200, 200, 422]);
    expect(again.map((r) => r.wallet?.balance)).toEqual([300, 305, undefined]);
    expect(await usdBalance(id)).toBe(305);
    expect((await server.sdk().customers.wallets.ledgerEntries.list(id)).items).toHaveLength(2);

    // A key sent through the single route is the same key in a batch, and the other way round.
    const single = await server.sdk().customers.wallets.ledgerEntries.create(id, { amount: 300, currency: 'USD', entry_type: 'credit', idempotency_key: 'meter-1' });
    expect(single.balance).toBe(300);
  });

  it('answers another business\'s customer, a made-up id and a malformed id with a per-entry 404', async () => {
    const mine = await newCustomer();
    const theirs = await newCustomer(KEY_B);
    const results = await batch([
      { customer_id: theirs, amount: 10, currency: 'USD', entry_type: 'credit' },
      { customer_id: 'cus_doesnotexist0000', amount: 10, currency: 'USD', entry_type: 'credit' },
      { customer_id: 'not-a-customer-id', amount: 10, currency: 'USD', entry_type: 'credit' },
      { customer_id: mine, amount: 10, currency: 'USD', entry_type: 'credit' },
    ]);
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [404, 'CUSTOMER_NOT_FOUND'],
      [404, 'CUSTOMER_NOT_FOUND'],
      [404, 'CUSTOMER_NOT_FOUND'],
      [200, undefined],
    ]);
    expect((await server.sdk(KEY_B).customers.wallets.ledgerEntries.list(theirs)).items).toHaveLength(0);
  });

  it('refuses a bad entry in the same words as the single route', async () => {
    const id = await newCustomer();
    const bad: Array<Record<string, unknown>> = [
      { amount: 0, currency: 'USD', entry_type: 'credit' },
      { amount: 1.5, currency: 'USD', entry_type: 'credit' },
      { amount: 2 ** 53, currency: 'USD', entry_type: 'credit' },
      { currency: 'USD', entry_type: 'credit' },
      { amount: 1, currency: 'usd', entry_type: 'credit' },
      { amount: 1, currency: 7, entry_type: 'credit' },
      { amount: 1, entry_type: 'credit' },
      { amount: 1, currency: 'USD', entry_type: 'refund' },
      { amount: 1, currency: 'USD', entry_type: 'credit', idempotency_key: '' },
      { amount: 1, currency: 'USD', entry_type: 'credit', idempotency_key: 'has space' },
      { amount: 1, currency: 'USD', entry_type: 'credit', idempotency_key: 'k'.repeat(256) },
      { amount: 1, currency: 'USD', entry_type: 'credit', idempotency_key: 12 },
      { amount: 1, currency: 'USD', entry_type: 'credit', reason: 'r'.repeat(501) },
      { amount: 1, currency: 'USD', entry_type: 'credit', reason: 5 },
      { amount: 1, currency: 'USD', entry_type: 'credit', balance: 1_000_000 },
      { amount: -5, currency: 'EUR', entry_type: 'gift', surprise: true },
    ];
    const results = await batch(bad.map((entry) => ({ customer_id: id, ...entry })));
    for (const [i, entry] of bad.entries()) {
      const single = await postJson(server, `/customers/${id}/wallets/ledger-entries`, entry);
      expect({ entry, status: results[i].status, error: results[i].error }).toEqual({ entry, status: single.status, error: single.body });
    }
    expect((await server.sdk().customers.wallets.ledgerEntries.list(id)).items).toHaveLength(0);
  });

  it('refuses a malformed body as a whole with one 400', async () => {
    const id = await newCustomer();
    const entry = { customer_id: id, amount: 1, currency: 'USD', entry_type: 'credit' };
    const cases: Array<[unknown, string]> = [
      [[entry], 'The request body must be a JSON object.'],
      [{}, 'entries: entries must be an array of 1 to 50 ledger entries'],
      [{ entries: [] }, 'entries: entries must be an array of 1 to 50 ledger entries'],
      [{ entries: entry }, 'entries: entries must be an array of 1 to 50 ledger entries'],
      [{ entries: [entry], atomic: true }, 'atomic: property atomic should not exist'],
    ];
    for (const [body, message] of cases) {
      const response = await postJson(server, BATCH, body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION_FAILED');
      expect(response.body.message).toContain(message);
    }
    const malformed = await postJson(server, BATCH, '{"entries": [');
    expect([malformed.status, malformed.body.code]).toEqual([400, 'MALFORMED_JSON']);
    const unauthenticated = await postJson(server, BATCH, { entries: [entry] }, null);
    expect(unauthenticated.status).toBe(401);
    expect(await usdBalance(id)).toBe(0);
  });

  it('enforces the configured entry count and body size limits, and takes bodies past the global limit', async () => {
    const id = await newCustomer();
    const entry = { customer_id: id, amount: 1, currency: 'USD', entry_type: 'credit' };
    const tooMany = await postJson(server, BATCH, { entries: Array.from({ length: 51 }, () => entry) });
    expect([tooMany.status, tooMany.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(await usdBalance(id)).toBe(0);

    // 50 entries with long reasons: past the global 16 KiB limit, within the batch route's 64 KiB.
    const large = Array.from({ length: 50 }, (_, i) => ({ ...entry, reason: `${i}`.padEnd(400, '.') }));
    expect(JSON.stringify({ entries: large }).length).toBeGreaterThan(server.config.bodyLimitBytes);
    const accepted = await batch(large);
    expect(accepted.every((r) => r.status === 200)).toBe(true);
    expect(await usdBalance(id)).toBe(50);

    const huge = { entries: [{ ...entry, reason: 'x'.repeat(70_000) }] };
    const refused = await postJson(server, BATCH, huge);
    expect([refused.status, refused.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    // The single route keeps the small global limit.
    const single = await postJson(server, `/customers/${id}/wallets/ledger-entries`, { amount: 1, currency: 'USD', entry_type: 'credit', reason: 'x'.repeat(20_000) });
    expect(single.status).toBe(413);
    expect(await usdBalance(id)).toBe(50);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await (await server.fetch('/openapi.json', { key: null })).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths[BATCH])).toEqual(['post']);
  });
});
