import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { AuditReport, ProjectionStatus } from '#ledger';
import { cliEnv, runLedger, SQLITE_ONLY } from './fixtures/cli-harness.js';
import { KEY_A, KEY_B, startTestServer, type TestServer } from './support/test-server.js';

const ADMIN_KEY = 'sk_admin_audit_0001';

/**
 * The acceptance path on the embedded backend: data written through the API, audited by
 * the CLI; a read model corrupted by hand is caught (customer named, non-zero exit) by
 * the CLI and the admin route; a blue/green rebuild while the API runs brings it back clean.
 */
describe('audit of API-written data, corruption and repair (read models: sqlite)', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  const ids: string[] = [];
  let readModelsFile: string;

  beforeAll(async () => {
    server = await startTestServer({ env: { ADMIN_API_KEYS: ADMIN_KEY, ...SQLITE_ONLY } });
    env = cliEnv(server.config);
    readModelsFile = join(server.dataDir, 'read-models.sqlite');
    const sdk = server.sdk();
    for (const name of ['Ada', 'Bob', 'Cy']) {
      ids.push((await sdk.customers.create({ email: `${name.toLowerCase()}@example.com`, name })).customer_id);
    }
    const [ada, bob, cy] = ids;
    await sdk.customers.wallets.ledgerEntries.create(ada, {
      amount: 1000,
      currency: 'USD',
      entry_type: 'credit',
      reason: 'welcome',
      idempotency_key: 'a-1',
    });
    await sdk.customers.wallets.ledgerEntries.create(ada, {
      amount: 1000,
      currency: 'USD',
      entry_type: 'credit',
      reason: 'welcome',
      idempotency_key: 'a-1',
    });
    await sdk.customers.wallets.ledgerEntries.create(ada, { amount: 250, currency: 'USD', entry_type: 'debit', reason: 'usage' });
    await sdk.customers.wallets.ledgerEntries.create(bob, { amount: 5000, currency: 'INR', entry_type: 'credit' });
    await sdk.customers.wallets.ledgerEntries.create(bob, { amount: 300, currency: 'USD', entry_type: 'credit' });
    await sdk.customers.wallets.ledgerEntries.create(bob, {
      amount: 100,
      currency: 'USD',
      entry_type: 'debit',
      reason: 'renewal',
    });
    await sdk.customers.update(cy, { name: 'Cy Young', metadata: { tier: 'gold' } });
    // Another business's customer is audited too.
    ids.push((await server.sdk(KEY_B).customers.create({ email: 'dee@example.com', name: 'Dee' })).customer_id);
  });
  afterAll(async () => server.close());

  const adminAudit = (customerId: string, key: string | null = ADMIN_KEY) =>
    server.fetch(`/admin/customers/${customerId}/audit`, { key });
  const sql = (statement: string, ...params: unknown[]) => {
    const db = new Database(readModelsFile);
    try {
      return db.prepare(statement).run(...params);
    } finally {
      db.close();
    }
  };

  it('finds nothing wrong with what the API wrote, and prints totals', async () => {
    const run = await runLedger(['audit'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('result: OK, no discrepancy');
    expect(run.stdout).toMatch(/customers: 4 {2}events: \d+ {2}ledger entries: 5/);
    const report = JSON.parse((await runLedger(['audit', '--json'], env)).stdout) as AuditReport;
    expect(report).toMatchObject({
      ok: true,
      scope: 'all',
      readModelVersion: 1,
      lag: 0,
      totals: {
        customers: 4,
        entries: 5,
        balancesFromEvents: { INR: 5000, USD: 950 },
        balancesFromReadModels: { INR: 5000, USD: 950 },
      },
    });
    // 4 customers x (created + 2 wallets) + 5 entries + 1 update.
    expect(report.totals.events).toBe(18);
    expect(report.checkpoint).toBe(18);
  });

  it('audits one customer from the CLI and over the admin route', async () => {
    const run = await runLedger(['audit', '--customer', ids[0], '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      scope: { customerId: ids[0] },
      totals: { customers: 1, events: 5, entries: 2 },
    });
    const response = await adminAudit(ids[0]);
    expect(response.status).toBe(200);
    // The same report as the CLI's, in the API's snake_case.
    const wire = (await response.json()) as Record<string, unknown>;
    expect(wire).toMatchObject({
      ok: true,
      scope: { customer_id: ids[0] },
      read_model_version: expect.any(Number),
      totals: {
        balances_from_events: { USD: 750, INR: 0 },
        balances_from_read_models: { USD: 750, INR: 0 },
        customers_with_discrepancies: 0,
      },
      discrepancies: [],
      duration_ms: expect.any(Number),
      events_per_second: expect.any(Number),
    });
    const camel = JSON.stringify(wire).match(/"[a-z]+[A-Z]\w*":/g);
    expect(camel).toBeNull();
  });

  it('keeps admin routes to admin keys: a business key gets 403, no key or a wrong key 401', async () => {
    expect((await adminAudit(ids[0], KEY_A)).status).toBe(403);
    expect(await (await adminAudit(ids[0], KEY_A)).json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await adminAudit(ids[0], null)).status).toBe(401);
    expect((await adminAudit(ids[0], 'sk_not_a_key_at_all')).status).toBe(401);
    // An admin key is no business key either.
    expect((await server.fetch(`/customers/${ids[0]}/wallets`, { key: ADMIN_KEY })).status).toBe(401);
    // A customer that does not exist is a 404, as elsewhere.
    expect((await adminAudit('cus_000000000000000000000000')).status).toBe(404);
  });

  it('catches a balance changed by hand in read-models.sqlite: names the customer, exits non-zero', async () => {
    const bob = ids[1];
    expect(
      sql("UPDATE wallet_v1_wallets SET balance_minor = balance_minor + 1 WHERE customer_id = ? AND currency = 'USD'", bob)
        .changes,
    ).toBe(1);
    const run = await runLedger(['audit'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`DISCREPANCY ${bob} USD wallet.balance`);
    expect(run.stdout).toContain('USD balance is 201 in the read models; the events say 200');
    expect(run.stdout).toContain('result: FAILED, 1 discrepancy(ies) in 1 customer(s)');
    const report = JSON.parse((await runLedger(['audit', '--json'], env)).stdout) as AuditReport;
    expect(report.ok).toBe(false);
    expect(report.discrepancies).toEqual([
      expect.objectContaining({ customerId: bob, currency: 'USD', kind: 'wallet.balance', expected: 200, actual: 201 }),
    ]);
    expect(report.totals.balancesFromReadModels.USD).toBe(report.totals.balancesFromEvents.USD + 1);
    const response = await adminAudit(bob);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      ok: false,
      discrepancies: [{ customer_id: bob, currency: 'USD', kind: 'wallet.balance', expected: 200, actual: 201 }],
    });
  });

  it('catches history rows that were edited, removed or made up', async () => {
    const [ada, , cy] = ids;
    sql("UPDATE wallet_v1_entries SET reason = 'edited' WHERE customer_id = ? AND customer_seq = 1", ada);
    sql('UPDATE wallet_v1_customers SET email = ? WHERE customer_id = ?', 'mallory@example.com', cy);
    const report = JSON.parse((await runLedger(['audit', '--json'], env)).stdout) as AuditReport;
    expect(report.totals.customersWithDiscrepancies).toBe(3);
    expect(report.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          customerId: ada,
          currency: 'USD',
          kind: 'entry.mismatch',
          field: 'reason',
          expected: 'welcome',
          actual: 'edited',
        }),
        expect.objectContaining({
          customerId: cy,
          kind: 'customer.mismatch',
          field: 'email',
          expected: 'cy@example.com',
          actual: 'mallory@example.com',
        }),
      ]),
    );
    sql('DELETE FROM wallet_v1_entries WHERE customer_id = ? AND customer_seq = 2', ada);
    const afterDelete = JSON.parse((await runLedger(['audit', '--customer', ada, '--json'], env)).stdout) as AuditReport;
    expect(afterDelete.discrepancies).toEqual(
      expect.arrayContaining([expect.objectContaining({ customerId: ada, kind: 'entry.missing' })]),
    );
    sql(
      `INSERT INTO wallet_v1_entries (customer_id, customer_seq, currency_seq, id, business_id, currency, amount_minor, is_credit,
         before_balance_minor, after_balance_minor, reason, created_at) VALUES (?, 1, 1, 'wle_madeup', 'biz_a', 'USD', 5, 1, 0, 5, NULL, ?)`,
      cy,
      new Date().toISOString(),
    );
    sql('UPDATE wallet_v1_customers SET entry_count = 1 WHERE customer_id = ?', cy);
    const madeUp = await runLedger(['audit', '--customer', cy], env);
    expect(madeUp.code).toBe(1);
    expect(madeUp.stdout).toContain(`DISCREPANCY ${cy} USD wle_madeup entry.unexpected`);
  });

  it('repairs everything with a blue/green rebuild while the API keeps answering', async () => {
    const sdk = server.sdk();
    let reads = 0;
    let failures = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        try {
          await sdk.customers.wallets.list(ids[0]);
          await sdk.customers.wallets.ledgerEntries.create(ids[0], { amount: 1, currency: 'INR', entry_type: 'credit' });
          reads += 1;
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
    expect(rebuild.stdout).toMatch(/rebuilt wallet v2: \d+ events .* active v2, v1 dropped/);
    expect(failures).toBe(0);
    expect(reads).toBeGreaterThan(0);

    const run = await runLedger(['audit'], env);
    expect(run.stdout).toContain('read models wallet v2');
    expect(run.stdout).toContain('result: OK');
    expect(run.code).toBe(0);
    expect(await (await adminAudit(ids[1])).json()).toMatchObject({ ok: true, read_model_version: 2 });
    // The API serves v2 (v1 is gone) and its projector feeds v2: the traffic's entries are all there.
    const inr = (await sdk.customers.wallets.list(ids[0])).items.find((w) => w.currency === 'INR')!;
    expect(inr.balance).toBe(reads);
    const tables = new Database(readModelsFile, { readonly: true });
    const names = (
      tables.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'wallet_v%'").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    tables.close();
    expect(names.every((name) => name.startsWith('wallet_v2_'))).toBe(true);
    const status = JSON.parse((await runLedger(['projections', 'status', '--json'], env)).stdout) as ProjectionStatus[];
    expect(status).toEqual([
      expect.objectContaining({ name: 'wallet', activeVersion: 2, lag: 0, state: 'live', rebuilding: null }),
    ]);
  });
});
