import { Long, MongoClient } from 'mongodb';
import type { AuditReport, ProjectionStatus } from '#ledger';
import { cliEnv, runLedger } from './fixtures/cli-harness.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const url = process.env.MONGODB_URL;
const ADMIN_KEY = 'sk_admin_mongo_0001';

// Needs a MongoDB wire-protocol server: set MONGODB_URL (locally: eval "$(scripts/ferretdb.sh start)").
const describeMongo = url ? describe : describe.skip;

/** The acceptance path on MongoDB read models: audit, corruption caught, blue/green rebuild, clean again. */
describeMongo('audit, corruption and blue/green rebuild on MongoDB read models', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  let client: MongoClient;
  const ids: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ env: { ADMIN_API_KEYS: ADMIN_KEY } });
    expect(server.config.mongoUrl).not.toBeNull();
    env = cliEnv(server.config);
    client = await new MongoClient(url!).connect();
    const sdk = server.sdk();
    for (const name of ['Ada', 'Bob']) ids.push((await sdk.customers.create({ email: `${name}@example.com`, name })).customer_id);
    await sdk.customers.wallets.ledgerEntries.create(ids[0], {
      amount: 900,
      currency: 'USD',
      entry_type: 'credit',
      reason: 'welcome',
    });
    await sdk.customers.wallets.ledgerEntries.create(ids[1], { amount: 300, currency: 'USD', entry_type: 'credit' });
    await sdk.customers.wallets.ledgerEntries.create(ids[1], { amount: 100, currency: 'USD', entry_type: 'debit' });
  });
  afterAll(async () => {
    await client
      ?.db(server.config.mongoDbName)
      .dropDatabase()
      .catch(() => undefined);
    await client?.close();
    await server?.close();
  });

  const db = () => client.db(server.config.mongoDbName);

  it('audits clean, catches a balance changed by hand, and a rebuild with the API live repairs it', async () => {
    const clean = await runLedger(['audit', '--json'], env);
    expect(clean.stderr).toBe('');
    expect(JSON.parse(clean.stdout)).toMatchObject({
      ok: true,
      readModelVersion: 1,
      totals: { customers: 2, entries: 3, balancesFromEvents: { USD: 1100 } },
    });

    const bob = ids[1];
    const changed = await db()
      .collection('wallet_v1_wallets')
      .updateOne({ _id: `${bob}:USD` as never }, { $set: { balanceMinor: Long.fromNumber(250) } });
    expect(changed.modifiedCount).toBe(1);
    const caught = await runLedger(['audit'], env);
    expect(caught.code).toBe(1);
    expect(caught.stdout).toContain(`DISCREPANCY ${bob} USD wallet.balance`);
    const admin = await server.fetch(`/admin/customers/${bob}/audit`, { key: ADMIN_KEY });
    expect(await admin.json()).toMatchObject({
      ok: false,
      discrepancies: [{ customer_id: bob, kind: 'wallet.balance', expected: 200, actual: 250 }],
    });

    const sdk = server.sdk();
    let failures = 0;
    let writes = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        try {
          await sdk.customers.wallets.ledgerEntries.create(ids[0], { amount: 1, currency: 'INR', entry_type: 'credit' });
          writes += 1;
        } catch {
          failures += 1;
        }
      }
    })();
    const rebuild = await runLedger(['projections', 'rebuild', '--drop-after', '1.5'], env);
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await traffic;
    expect(rebuild.stderr).toBe('');
    expect(rebuild.code).toBe(0);
    expect(failures).toBe(0);

    const repaired = JSON.parse((await runLedger(['audit', '--json'], env)).stdout) as AuditReport;
    expect(repaired).toMatchObject({ ok: true, readModelVersion: 2 });
    expect((await sdk.customers.wallets.list(ids[0])).items.find((w) => w.currency === 'INR')?.balance).toBe(writes);
    expect((await sdk.customers.wallets.list(bob)).items.find((w) => w.currency === 'USD')?.balance).toBe(200);
    const collections = (await db().listCollections().toArray()).map((c) => c.name).filter((name) => name.startsWith('wallet_v'));
    expect(collections.every((name) => name.startsWith('wallet_v2_'))).toBe(true);
    expect(
      await db()
        .collection('projection_registry')
        .findOne({ _id: 'wallet' as never }),
    ).toMatchObject({ activeVersion: 2 });
    const [status] = JSON.parse((await runLedger(['projections', 'status', '--json'], env)).stdout) as ProjectionStatus[];
    expect(status).toMatchObject({ name: 'wallet', activeVersion: 2, state: 'live', lag: 0 });
    const entries = await db().collection('wallet_v2_entries').find({ customerId: ids[0] }).toArray();
    expect(entries.every((e) => typeof e.eventPosition === 'number')).toBe(true);
  });
});
