import { READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';
import { ensureBuilt, startChild, type ChildHandle } from './support/built-app.js';

const PROJECTOR = 'dist/apps/projector/src/main.js';

/**
 * The projector as processes of their own: the API (PROJECTOR_MODE=external) writes,
 * projector A holds the lease and projects, B stands by; A is SIGKILLed mid-stream and
 * B takes over, applying every entry exactly once. Reads after writes still see them.
 */
describe(`projector processes with a lease (read models: ${READ_MODEL_BACKEND})`, () => {
  let server: TestServer;
  const children: ChildHandle[] = [];

  beforeAll(async () => {
    ensureBuilt(PROJECTOR);
    server = await startTestServer({ env: { PROJECTOR_MODE: 'external', READ_YOUR_WRITES_TIMEOUT_MS: '15000' } });
  }, 120_000);
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await server.close();
  });

  function projector(): ChildHandle {
    const env: Record<string, string> = {
      DATA_DIR: server.dataDir,
      API_KEYS: 'sk_unused_by_projector:biz_x',
      LOG_LEVEL: 'info',
      PROJECTOR_LEASE_TTL_MS: '1500',
      PROJECTOR_LEASE_RENEW_MS: '300',
      ...(server.config.mongoUrl ? { MONGODB_URL: server.config.mongoUrl, MONGODB_DB: server.config.mongoDbName } : {}),
    };
    const child = startChild(PROJECTOR, env);
    children.push(child);
    return child;
  }

  it('projects from one holder at a time, fails over on SIGKILL, and double-applies nothing', async () => {
    const a = projector();
    await a.waitForOutput(/holds the projection lease/, 20_000);
    const b = projector();
    await b.waitForOutput(/starting/, 20_000);

    const sdk = server.sdk();
    const { customer_id: id } = await sdk.customers.create({ email: 'failover@example.com', name: 'Failover' });
    for (let i = 0; i < 10; i += 1) await sdk.customers.wallets.ledgerEntries.create(id, { amount: 10, currency: 'USD', entry_type: 'credit' });
    expect((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(100);
    expect(b.output()).not.toMatch(/holds the projection lease/);

    // A burst is being written and projected when A dies: A is killed mid-catch-up, and each
    // answer waits until the stand-by has taken over and caught up.
    const burst = Promise.all(
      Array.from({ length: 60 }, () => sdk.customers.wallets.ledgerEntries.create(id, { amount: 1, currency: 'USD', entry_type: 'credit' })),
    );
    await new Promise((resolve) => setTimeout(resolve, 40));
    a.process.kill('SIGKILL');
    await a.exited();
    await burst;
    expect(b.output()).toMatch(/holds the projection lease/);

    const wallets = await sdk.customers.wallets.list(id);
    expect(wallets.items.find((w) => w.currency === 'USD')?.balance).toBe(160);
    const history = [
      ...(await sdk.customers.wallets.ledgerEntries.list(id, { page_size: 100 })).items,
      ...(await sdk.customers.wallets.ledgerEntries.list(id, { page_size: 100, page_number: 1 })).items,
    ];
    expect(history).toHaveLength(70);
    expect(new Set(history.map((e) => e.id)).size).toBe(70);
    // The history chains: nothing applied twice, nothing skipped.
    for (let i = 0; i < history.length - 1; i += 1) expect(history[i].before_balance).toBe(history[i + 1].after_balance);

    b.process.kill('SIGTERM');
    expect(await b.exited()).toBe(0);
  }, 90_000);
});
