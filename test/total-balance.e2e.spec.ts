import { postJson, READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';

const MAX = Number.MAX_SAFE_INTEGER;

/** total_balance_usd at the edge of what a JSON number carries exactly (INR at the default 0.012). */
describe(`total_balance_usd at 2^53 − 1 (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  const newCustomer = async () => (await server.sdk().customers.create({ email: 'edge@example.com', name: 'Edge' })).customer_id;
  const entry = (customerId: string, amount: number, currency: 'USD' | 'INR') =>
    postJson(server, `/customers/${customerId}/wallets/ledger-entries`, { amount, currency, entry_type: 'credit' });
  /** The total as sent on the wire, read as text: a JSON parser would round it before we could look. */
  const rawTotal = async (customerId: string) => {
    const text = await (await server.fetch(`/customers/${customerId}/wallets`)).text();
    return /"total_balance_usd":(-?\d+)/.exec(text)?.[1];
  };

  it('refuses the credit that would put USD and INR both at the cap, with WALLET.TOTAL_BALANCE_OVERFLOW', async () => {
    const id = await newCustomer();
    expect((await entry(id, MAX, 'USD')).status).toBe(200);
    // Exactly this would be 9115285645797883 cents, which no JSON number carries.
    const refused = await entry(id, MAX, 'INR');
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      code: 'WALLET.TOTAL_BALANCE_OVERFLOW',
      details: { currency: 'INR', max_total_balance_usd: MAX },
    });
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(await rawTotal(id)).toBe(String(MAX));
    const wallets = await server.sdk().customers.wallets.list(id);
    expect(wallets.items.find((w) => w.currency === 'INR')?.balance).toBe(0);
  });

  it('reports a total exactly at 2^53 − 1, rounded once; one paisa more that rounds past it is refused', async () => {
    const id = await newCustomer();
    expect((await entry(id, MAX - 12, 'USD')).status).toBe(200);
    // 1041 paise are 12.492 cents: the total rounds to exactly MAX.
    expect((await entry(id, 1041, 'INR')).status).toBe(200);
    expect(await rawTotal(id)).toBe(String(MAX));
    expect((await server.sdk().customers.wallets.list(id)).total_balance_usd).toBe(MAX);
    // 1042 paise are 12.504 cents: MAX + 1 once rounded.
    const refused = await entry(id, 1, 'INR');
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('WALLET.TOTAL_BALANCE_OVERFLOW');
  });

  it('rounds once, half up: 41 paise show as 0 cents, 125 paise (exactly 1.5 cents) as 2', async () => {
    const id = await newCustomer();
    expect((await entry(id, 41, 'INR')).status).toBe(200);
    // 0.492 cents rounds to 0 on its own.
    expect(await rawTotal(id)).toBe('0');
    expect((await entry(id, 84, 'INR')).status).toBe(200);
    // 125 paise are exactly 1.5 cents: halves round up.
    expect(await rawTotal(id)).toBe('2');
  });

  it('refuses to report a total that a raised rate took past 2^53 − 1, rather than rounding it', async () => {
    const first = await startTestServer();
    let raised: TestServer | undefined;
    try {
      const id = (await first.sdk().customers.create({ email: 'rate@example.com', name: 'Rate' })).customer_id;
      const credit = (amount: number, currency: string) =>
        postJson(first, `/customers/${id}/wallets/ledger-entries`, { amount, currency, entry_type: 'credit' });
      expect((await credit(MAX - 100, 'USD')).status).toBe(200);
      expect((await credit(100, 'INR')).status).toBe(200);
      await first.stop();
      // At 2 USD per rupee the 100 paise are 200 cents: MAX + 100 in all.
      raised = await startTestServer({ dataDir: first.dataDir, mongoDbName: first.config.mongoDbName, env: { USD_RATES: 'INR:2' } });
      const response = await raised.fetch(`/customers/${id}/wallets`);
      expect(response.status).toBe(422);
      expect(await response.json()).toMatchObject({ code: 'WALLET.TOTAL_BALANCE_OVERFLOW' });
      // A debit still goes through (it lowers the total) and brings the total back in range.
      const debit = await postJson(raised, `/customers/${id}/wallets/ledger-entries`, {
        amount: 100,
        currency: 'INR',
        entry_type: 'debit',
      });
      expect(debit.status).toBe(200);
      expect((await raised.sdk().customers.wallets.list(id)).total_balance_usd).toBe(MAX - 100);
    } finally {
      await raised?.close();
      await first.close();
    }
  });
});
