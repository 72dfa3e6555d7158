import DodoPayments, { APIError } from 'dodopayments';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, startChild, type ChildHandle } from './support/built-app.js';
import { KEY_A, KEY_B } from './support/test-server.js';

const API = 'dist/apps/api/src/main.js';

/** The official SDK drives every route of the contract against the production entry point (`npm run start:prod`). */
describe('the official SDK against the built server (npm run start:prod)', () => {
  let api: ChildHandle;
  let dataDir: string;
  let sdk: DodoPayments;
  let other: DodoPayments;

  beforeAll(async () => {
    ensureBuilt(API);
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-prod-'));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    api = startChild(API, {
      DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'info',
      API_KEYS: `${KEY_A}:biz_a,${KEY_B}:biz_b`, MONGODB_DB: `ledger_prod_${port}`,
    });
    await api.waitForOutput(/listening on/, 30_000);
    const baseURL = `http://127.0.0.1:${port}`;
    sdk = new DodoPayments({ bearerToken: KEY_A, baseURL, maxRetries: 0 });
    other = new DodoPayments({ bearerToken: KEY_B, baseURL, maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    api.process.kill('SIGTERM');
    await api.exited();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves customers, wallets, ledger entries, idempotency and tenancy', async () => {
    const customer = await sdk.customers.create({ email: 'prod@example.com', name: 'Prod', metadata: { plan: 'pro' } });
    expect(customer).toMatchObject({ business_id: 'biz_a', email: 'prod@example.com', metadata: { plan: 'pro' } });
    const id = customer.customer_id;
    expect((await sdk.customers.update(id, { name: 'Prod Two' })).name).toBe('Prod Two');
    expect((await sdk.customers.retrieve(id)).name).toBe('Prod Two');
    expect((await sdk.customers.list({ page_number: 0, page_size: 10 })).items.map((c) => c.customer_id)).toEqual([id]);

    const body = { amount: 700, currency: 'USD' as const, entry_type: 'credit' as const, idempotency_key: 'prod-1', reason: 'top-up' };
    const first = await sdk.customers.wallets.ledgerEntries.create(id, body);
    expect(first.balance).toBe(700);
    expect(await sdk.customers.wallets.ledgerEntries.create(id, body)).toEqual(first);
    expect((await sdk.customers.wallets.ledgerEntries.create(id, { amount: 200, currency: 'USD', entry_type: 'debit' })).balance).toBe(500);
    const refused = await sdk.customers.wallets.ledgerEntries
      .create(id, { amount: 501, currency: 'USD', entry_type: 'debit' })
      .catch((e: APIError) => e);
    expect(refused).toMatchObject({ status: 400, error: { code: 'WALLET.INSUFFICIENT_BALANCE' } });

    const wallets = await sdk.customers.wallets.list(id);
    expect(wallets.items.map((w) => [w.currency, w.balance])).toEqual([['INR', 0], ['USD', 500]]);
    const history = await sdk.customers.wallets.ledgerEntries.list(id, { page_number: 0, page_size: 10, currency: 'USD' });
    expect(history.items.map((e) => [e.amount, e.is_credit, e.before_balance, e.after_balance])).toEqual([[200, false, 700, 500], [700, true, 0, 700]]);

    const hidden = await other.customers.wallets.list(id).catch((e: APIError) => e);
    expect(hidden).toMatchObject({ status: 404, error: { code: 'CUSTOMER_NOT_FOUND' } });
  });
});
