import { APIError } from 'dodopayments';
import { READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';

describe(`ledger entries over HTTP with the official SDK (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer()));
  afterAll(async () => server.close());

  async function newCustomer(): Promise<string> {
    return (await server.sdk().customers.create({ email: 'buyer@example.com', name: 'Buyer' })).customer_id;
  }

  it('credits and debits, returning the wallet right after the entry', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    const credited = await sdk.customers.wallets.ledgerEntries.create(id, { amount: 1000, currency: 'USD', entry_type: 'credit', reason: 'welcome bonus' });
    expect(credited).toMatchObject({ balance: 1000, currency: 'USD', customer_id: id });
    const debited = await sdk.customers.wallets.ledgerEntries.create(id, { amount: 250, currency: 'USD', entry_type: 'debit', reason: 'API usage' });
    expect(debited.balance).toBe(750);
    expect(Date.parse(debited.updated_at)).toBeGreaterThanOrEqual(Date.parse(credited.updated_at));
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 5000, currency: 'INR', entry_type: 'credit' });
    const wallets = await sdk.customers.wallets.list(id);
    expect(wallets.items.map((w) => [w.currency, w.balance])).toEqual([['INR', 5000], ['USD', 750]]);
    // 750 US cents + 50 rupees at the default 0.012 USD/INR = 750 + 60 cents.
    expect(wallets.total_balance_usd).toBe(810);
  });

  it('refuses a debit above the balance with 400 WALLET.INSUFFICIENT_BALANCE and changes nothing', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 100, currency: 'USD', entry_type: 'credit' });
    const error = await sdk.customers.wallets.ledgerEntries
      .create(id, { amount: 101, currency: 'USD', entry_type: 'debit' })
      .catch((e: APIError) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 400, error: { code: 'WALLET.INSUFFICIENT_BALANCE' } });
    expect((error as APIError).headers?.get('x-should-retry')).toBe('false');
    expect((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(100);
    expect((await sdk.customers.wallets.ledgerEntries.list(id)).items).toHaveLength(1);
  });

  it('shows history newest first with before/after balances, 0-based pages and a currency filter', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    for (let i = 1; i <= 12; i += 1) {
      await sdk.customers.wallets.ledgerEntries.create(id, { amount: i * 10, currency: i % 4 === 0 ? 'INR' : 'USD', entry_type: 'credit', reason: `r${i}` });
    }
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 5, currency: 'USD', entry_type: 'debit' });
    const first = await sdk.customers.wallets.ledgerEntries.list(id);
    expect(first.items).toHaveLength(10);
    expect(first.items[0]).toMatchObject({ amount: 5, is_credit: false, currency: 'USD', event_type: 'merchant_adjustment', reason: null, reference_object_id: null, customer_id: id, business_id: 'biz_a' });
    const page1 = await sdk.customers.wallets.ledgerEntries.list(id, { page_number: 1, page_size: 10 });
    expect(page1.items.map((e) => e.reason)).toEqual(['r3', 'r2', 'r1']);
    const inr = await sdk.customers.wallets.ledgerEntries.list(id, { currency: 'INR', page_size: 100 });
    expect(inr.items.map((e) => [e.amount, e.before_balance, e.after_balance])).toEqual([[120, 120, 240], [80, 40, 120], [40, 0, 40]]);
    // Each currency's entries chain: one entry's before is the previous (older) entry's after.
    const usd = (await sdk.customers.wallets.ledgerEntries.list(id, { currency: 'USD', page_size: 100 })).items;
    for (let i = 0; i < usd.length - 1; i += 1) expect(usd[i].before_balance).toBe(usd[i + 1].after_balance);
    expect(usd[usd.length - 1].before_balance).toBe(0);
    expect(usd[0].after_balance).toBe((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance);
  });

  it('applies a replayed idempotency key once and answers with the wallet as it stood after the original', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    const body = { amount: 300, currency: 'USD' as const, entry_type: 'credit' as const, idempotency_key: 'order-1' };
    const original = await sdk.customers.wallets.ledgerEntries.create(id, body);
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 50, currency: 'USD', entry_type: 'credit' });
    const replay = await sdk.customers.wallets.ledgerEntries.create(id, body);
    expect(replay).toEqual(original);
    expect((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(350);
    expect((await sdk.customers.wallets.ledgerEntries.list(id)).items).toHaveLength(2);
  });

  it('refuses the same key with a different payload with 422 IDEMPOTENCY_KEY_REUSED and changes nothing', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 300, currency: 'USD', entry_type: 'credit', idempotency_key: 'k' });
    for (const changed of [
      { amount: 301, currency: 'USD' as const, entry_type: 'credit' as const },
      { amount: 300, currency: 'INR' as const, entry_type: 'credit' as const },
      { amount: 300, currency: 'USD' as const, entry_type: 'debit' as const },
      { amount: 300, currency: 'USD' as const, entry_type: 'credit' as const, reason: 'different' },
    ]) {
      const error = await sdk.customers.wallets.ledgerEntries.create(id, { ...changed, idempotency_key: 'k' }).catch((e: APIError) => e);
      expect(error).toMatchObject({ status: 422, error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    }
    expect((await sdk.customers.wallets.ledgerEntries.list(id)).items).toHaveLength(1);
  });

  it('scopes idempotency keys to one customer', async () => {
    const sdk = server.sdk();
    const [a, b] = [await newCustomer(), await newCustomer()];
    const body = { amount: 70, currency: 'USD' as const, entry_type: 'credit' as const, idempotency_key: 'shared-key' };
    await sdk.customers.wallets.ledgerEntries.create(a, body);
    await sdk.customers.wallets.ledgerEntries.create(b, body);
    expect((await sdk.customers.wallets.list(b)).items.find((w) => w.currency === 'USD')?.balance).toBe(70);
  });

  it('applies 20 concurrent replays of one key exactly once, all answering the same wallet', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    const body = { amount: 999, currency: 'USD' as const, entry_type: 'credit' as const, idempotency_key: 'concurrent' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => sdk.customers.wallets.ledgerEntries.create(id, body)));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0].balance).toBe(999);
    expect((await sdk.customers.wallets.ledgerEntries.list(id)).items).toHaveLength(1);
  });

  it('lets exactly 50 of 100 concurrent debits of 1 succeed against a balance of 50', async () => {
    const sdk = server.sdk();
    const id = await newCustomer();
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 50, currency: 'USD', entry_type: 'credit' });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => sdk.customers.wallets.ledgerEntries.create(id, { amount: 1, currency: 'USD', entry_type: 'debit' })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(50);
    for (const r of refused) expect(r.reason).toMatchObject({ status: 400, error: { code: 'WALLET.INSUFFICIENT_BALANCE' } });
    const balances = ok.map((r) => (r as PromiseFulfilledResult<{ balance: number }>).value.balance).sort((x, y) => x - y);
    expect(balances).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(0);
    const history = await sdk.customers.wallets.ledgerEntries.list(id, { page_size: 100 });
    expect(history.items.filter((e) => !e.is_credit)).toHaveLength(50);
  });

  it('keeps concurrent mixed traffic on many customers consistent', async () => {
    const sdk = server.sdk();
    const ids = await Promise.all(Array.from({ length: 8 }, () => newCustomer()));
    const requests = ids.flatMap((id) =>
      Array.from({ length: 15 }, (_, i) =>
        sdk.customers.wallets.ledgerEntries.create(id, { amount: 10, currency: 'USD', entry_type: i % 3 === 2 ? 'debit' : 'credit' }),
      ),
    );
    await Promise.allSettled(requests);
    for (const id of ids) {
      const history = (await sdk.customers.wallets.ledgerEntries.list(id, { page_size: 100 })).items;
      const sum = history.reduce((acc, e) => acc + (e.is_credit ? e.amount : -e.amount), 0);
      const balance = (await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance;
      expect(balance).toBe(sum);
      expect(history.every((e) => e.after_balance >= 0)).toBe(true);
    }
  });
});
