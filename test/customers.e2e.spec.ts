import { APIError } from 'dodopayments';
import { BIZ_A, KEY_B, READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';

describe(`customers over HTTP with the official SDK (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer()));
  afterAll(async () => server.close());

  it('creates a customer with zero-balance wallets in every supported currency', async () => {
    const sdk = server.sdk();
    const customer = await sdk.customers.create({ email: 'ada@example.com', name: 'Ada', phone_number: '+15550100', metadata: { plan: 'pro' } });
    expect(customer).toMatchObject({ business_id: BIZ_A, email: 'ada@example.com', name: 'Ada', phone_number: '+15550100', metadata: { plan: 'pro' } });
    expect(customer.customer_id).toMatch(/^cus_[0-9a-f]{24}$/);
    expect(new Date(customer.created_at).toISOString()).toBe(customer.created_at);
    const wallets = await sdk.customers.wallets.list(customer.customer_id);
    expect(wallets.items.map((w) => [w.currency, w.balance])).toEqual([['INR', 0], ['USD', 0]]);
    expect(wallets.total_balance_usd).toBe(0);
    expect(await sdk.customers.retrieve(customer.customer_id)).toEqual(customer);
  });

  it('updates email, name, phone number and metadata; omitted fields stay', async () => {
    const sdk = server.sdk();
    const created = await sdk.customers.create({ email: 'grace@example.com', name: 'Grace' });
    const updated = await sdk.customers.update(created.customer_id, { name: 'Grace Hopper', metadata: { tier: 'gold' } });
    expect(updated).toMatchObject({ email: 'grace@example.com', name: 'Grace Hopper', metadata: { tier: 'gold' }, phone_number: null });
    const cleared = await sdk.customers.update(created.customer_id, { phone_number: '+4470000000' });
    expect(cleared.phone_number).toBe('+4470000000');
    expect((await sdk.customers.update(created.customer_id, { phone_number: null })).phone_number).toBeNull();
    expect(await sdk.customers.retrieve(created.customer_id)).toMatchObject({ name: 'Grace Hopper', phone_number: null });
  });

  it('lists a business\'s customers newest first with 0-based pages', async () => {
    const own = await startTestServer();
    try {
      const sdk = own.sdk();
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await sdk.customers.create({ email: `c${i}@example.com`, name: `C${i}` })).customer_id);
      await own.sdk(KEY_B).customers.create({ email: 'other@example.com', name: 'Other' });
      const page0 = await sdk.customers.list({ page_number: 0, page_size: 2 });
      const page2 = await sdk.customers.list({ page_number: 2, page_size: 2 });
      expect(page0.items.map((c) => c.customer_id)).toEqual([ids[4], ids[3]]);
      expect(page2.items.map((c) => c.customer_id)).toEqual([ids[0]]);
      const all = await sdk.customers.list({ page_size: 100 });
      expect(all.items).toHaveLength(5);
      const byEmail = await sdk.customers.list({ email: 'c3@example.com' });
      expect(byEmail.items.map((c) => c.customer_id)).toEqual([ids[3]]);
    } finally {
      await own.close();
    }
  });

  it('hides a customer from another business on every route (404, nothing leaked)', async () => {
    const owner = server.sdk();
    const other = server.sdk(KEY_B);
    const { customer_id: id } = await owner.customers.create({ email: 'private@example.com', name: 'Private' });
    await owner.customers.wallets.ledgerEntries.create(id, { amount: 100, currency: 'USD', entry_type: 'credit' });
    const attempts: Array<() => Promise<unknown>> = [
      () => other.customers.retrieve(id),
      () => other.customers.update(id, { name: 'Hacked' }),
      () => other.customers.wallets.list(id),
      () => other.customers.wallets.ledgerEntries.list(id),
      () => other.customers.wallets.ledgerEntries.create(id, { amount: 1, currency: 'USD', entry_type: 'debit' }),
    ];
    for (const attempt of attempts) {
      const error = await attempt().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBe(404);
      expect((error as APIError).error).toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });
      expect(JSON.stringify((error as APIError).error)).not.toContain('private@example.com');
    }
    const list = await other.customers.list({ page_size: 100 });
    expect(list.items.some((c) => c.customer_id === id)).toBe(false);
    expect((await owner.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(100);
    expect((await owner.customers.retrieve(id)).name).toBe('Private');
  });

  it('answers an unknown customer id with 404 CUSTOMER_NOT_FOUND', async () => {
    const error = await server.sdk().customers.retrieve('cus_000000000000000000000000').catch((e: APIError) => e);
    expect(error).toMatchObject({ status: 404, error: { code: 'CUSTOMER_NOT_FOUND' } });
  });

  it('refuses a missing or unknown API key with 401, and lets health through without one', async () => {
    for (const key of [null, 'sk_not_a_real_key_123']) {
      const response = await server.fetch('/customers', { key });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
      expect(response.headers.get('x-should-retry')).toBe('false');
    }
    const malformed = await server.fetch('/customers', { key: null, headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    expect((await server.fetch('/health', { key: null })).status).toBe(200);
  });
});
