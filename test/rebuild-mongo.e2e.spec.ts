import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Long, MongoClient } from 'mongodb';
import { SqliteEventStore } from '#event-store';
import {
  ActiveReadModels,
  loadLedgerConfig,
  openLogHead,
  openReadModelBackend,
  rebuildProjection,
  type AuditReport,
  type ProjectionStatus,
} from '#ledger';
import { generateLedger } from '../bench/ledger-generator.js';
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

/**
 * A dropped MongoDB collection reads as empty, not as an error: a reader still on the dropped
 * version would find no customer and the API would answer 404. It must look at the registry
 * and answer from the new version instead.
 */
describeMongo('a reader that missed the switch, on MongoDB read models', () => {
  it('finds nothing on the dropped version, follows the registry and answers from the new one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledger-missed-mongo-'));
    const dbName = `missed_switch_${process.pid}_${Date.now()}`;
    const config = loadLedgerConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      API_KEYS: 'sk_test_missed_0001:biz_missed',
      MONGODB_URL: url,
      MONGODB_DB: dbName,
      LOG_LEVEL: 'error',
    });
    const events = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 100,
      idlePollMs: 20,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    await generateLedger(events, { customers: 5, events: 200, businessId: 'biz_missed' });
    const [first] = await events.readAll({ after: null, maxCount: 1 });
    const customerId = (first.data as { customerId: string }).customerId;
    // The first rebuild gives the reader a populated version (v2); the second drops it under the reader.
    const builder = await openReadModelBackend(config);
    const logHead = openLogHead(config, events);
    const client = await new MongoClient(url!).connect();
    let reader: ActiveReadModels | null = null;
    try {
      await rebuildProjection({ eventStore: events, backend: builder, logHead }, { dropDelayMs: 0 });
      // Never polls on its own: only its reads make it look at the registry.
      reader = await ActiveReadModels.open(await openReadModelBackend(config), {
        name: 'wallet',
        initialVersion: 1,
        pollMs: 3_600_000,
        catchUpTimeoutMs: 1000,
        closeGraceMs: 100,
      });
      expect(reader.activeVersion).toBe(2);
      expect(await reader.findCustomer('biz_missed', customerId)).not.toBeNull();
      await rebuildProjection({ eventStore: events, backend: builder, logHead }, { dropDelayMs: 0 });
      expect(reader.activeVersion).toBe(2);
      // The premise: v2's collections are gone, and reading them raises nothing.
      const names = (await client.db(dbName).listCollections().toArray()).map((c) => c.name);
      expect(names.some((name) => name.startsWith('wallet_v2'))).toBe(false);

      const customer = await reader.findCustomer('biz_missed', customerId);
      expect(reader.activeVersion).toBe(3);
      expect(customer?.customerId).toBe(customerId);
      expect((await reader.listWallets(customerId)).length).toBeGreaterThan(0);
    } finally {
      await reader?.close();
      await builder.close();
      await logHead.close();
      await events.close();
      await client
        .db(dbName)
        .dropDatabase()
        .catch(() => undefined);
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
