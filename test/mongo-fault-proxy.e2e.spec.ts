import Database from 'better-sqlite3';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { AuditReport } from '#ledger';
import { cliEnv, runLedger } from './fixtures/cli-harness.js';
import { startTestServer, type TestServer } from './support/test-server.js';
import { mongoCommandName, TcpFaultProxy } from './support/tcp-proxy.js';

const url = process.env.MONGODB_URL;
// Needs a MongoDB wire-protocol server: set MONGODB_URL (locally: eval "$(scripts/ferretdb.sh start)").
const describeMongo = url ? describe : describe.skip;

const CUSTOMERS = 4;
const ENTRIES_PER_CUSTOMER = 6;
/** Insert commands cut; half never reach the server, half lose only the reply. */
const CUTS = 8;
const CATCH_UP_TIMEOUT_MS = 45_000;
const MONITOR_INTERVAL_MS = 20;

interface Violation {
  readonly checkpoint: number;
  readonly collection: string;
  readonly inLog: number;
  readonly inReadModels: number;
}

/**
 * The projector writes MongoDB read models through a TCP proxy that cuts the connection
 * carrying insert commands. A cut insert must fail its batch (which is then retried from
 * the checkpoint), never count as "all duplicates" and let the checkpoint move past
 * documents that were never written.
 */
describeMongo('MongoDB read models behind a TCP proxy that cuts connections during projection', () => {
  let proxy: TcpFaultProxy;
  let server: TestServer;
  let direct: MongoClient;
  let log: Database.Database;

  beforeAll(async () => {
    const target = new URL(url!);
    proxy = await TcpFaultProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 27017) });
    const proxied = new URL(url!);
    proxied.host = `127.0.0.1:${proxy.port}`;
    // LOG_LEVEL fatal: each cut logs a failed batch, which is the expected outcome here.
    server = await startTestServer({ env: { MONGODB_URL: proxied.toString(), LOG_LEVEL: 'fatal' } });
    direct = await new MongoClient(url!).connect();
    log = new Database(join(server.dataDir, 'events.sqlite'), { readonly: true, fileMustExist: true });
  });
  afterAll(async () => {
    log?.close();
    await direct
      ?.db(server.config.mongoDbName)
      .dropDatabase()
      .catch(() => undefined);
    await direct?.close();
    await server?.close();
    await proxy?.close();
  });

  const db = () => direct.db(server.config.mongoDbName);

  /** Reads the checkpoint first, then what it covers: documents written before it must all be there. */
  async function checkCheckpointCoversWrites(): Promise<Violation[]> {
    const checkpointDoc = await db().collection('projection_checkpoints').findOne({ _id: 'wallet_v1' as never });
    if (checkpointDoc === null) return [];
    const checkpoint = Number(checkpointDoc.position);
    const countInLog = (types: string[]) =>
      (
        log
          .prepare(`SELECT count(*) AS n FROM events WHERE position <= ? AND type IN (${types.map(() => '?').join(',')})`)
          .get(checkpoint, ...types) as { n: number }
      ).n;
    const entriesInLog = countInLog(['WalletCredited', 'WalletDebited']);
    const entriesInReadModels = await db()
      .collection('wallet_v1_entries')
      .countDocuments({ eventPosition: { $lte: checkpoint } });
    const customersInLog = countInLog(['CustomerCreated']);
    const customersInReadModels = await db().collection('wallet_v1_customers').countDocuments({});
    const violations: Violation[] = [];
    if (entriesInReadModels < entriesInLog) {
      violations.push({ checkpoint, collection: 'entries', inLog: entriesInLog, inReadModels: entriesInReadModels });
    }
    // Customers carry no position; at least as many as the log created up to the checkpoint must exist.
    if (customersInReadModels < customersInLog) {
      violations.push({ checkpoint, collection: 'customers', inLog: customersInLog, inReadModels: customersInReadModels });
    }
    return violations;
  }

  it('stores every entry, audits clean, and never checkpoints past an unwritten batch', async () => {
    let cutsArmed = 0;
    for (const mode of ['drop', 'lose-reply'] as const) {
      proxy.cutOnMessage((message) => mongoCommandName(message) === 'insert', { times: CUTS / 2, mode });
      cutsArmed += CUTS / 2;
    }

    const violations: Violation[] = [];
    let monitoring = true;
    const monitor = (async () => {
      while (monitoring) {
        violations.push(...(await checkCheckpointCoversWrites()));
        await new Promise((resolve) => setTimeout(resolve, MONITOR_INTERVAL_MS));
      }
    })();

    const sdk = server.sdk();
    const ids: string[] = [];
    for (let i = 0; i < CUSTOMERS; i += 1) {
      ids.push((await sdk.customers.create({ email: `proxy${i}@example.com`, name: `Proxy ${i}` })).customer_id);
    }
    // One writer per customer, concurrently, so batches mix customers.
    await Promise.all(
      ids.map(async (id) => {
        for (let n = 1; n <= ENTRIES_PER_CUSTOMER; n += 1) {
          await sdk.customers.wallets.ledgerEntries.create(id, { amount: n, currency: 'USD', entry_type: 'credit' });
        }
      }),
    );
    const cutsUsed = cutsArmed - proxy.armedCuts;
    proxy.disarm();

    // The cuts have stopped: the projector must reach the head of the log.
    const head = (log.prepare('SELECT max(position) AS p FROM events').get() as { p: number }).p;
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    for (;;) {
      const checkpoint = await db().collection('projection_checkpoints').findOne({ _id: 'wallet_v1' as never });
      if (checkpoint !== null && Number(checkpoint.position) >= head) break;
      if (Date.now() > deadline) throw new Error(`projector did not reach the log head ${head} in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    monitoring = false;
    await monitor;
    violations.push(...(await checkCheckpointCoversWrites()));

    const audit = await runLedger(['audit', '--json'], cliEnv(server.config));
    expect(audit.stderr).toBe('');
    const report = JSON.parse(audit.stdout) as AuditReport;
    // One summary, so that a failure shows every symptom at once.
    expect({
      cutsUsed,
      cutsByProxy: proxy.cuts >= cutsUsed,
      violations: violations.length,
      firstViolation: violations[0] ?? null,
      entriesStored: await db().collection('wallet_v1_entries').countDocuments({}),
      customersStored: await db().collection('wallet_v1_customers').countDocuments({}),
      auditOk: report.ok,
      auditDiscrepancies: report.discrepancies.length,
    }).toEqual({
      cutsUsed: CUTS,
      cutsByProxy: true,
      violations: 0,
      firstViolation: null,
      entriesStored: CUSTOMERS * ENTRIES_PER_CUSTOMER,
      customersStored: CUSTOMERS,
      auditOk: true,
      auditDiscrepancies: 0,
    });
    for (const id of ids) {
      const page = await sdk.customers.wallets.ledgerEntries.list(id, { page_size: 100 });
      expect(page.items.map((e) => e.amount)).toEqual([6, 5, 4, 3, 2, 1]);
      const usd = (await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD');
      expect(usd?.balance).toBe(21);
    }
  });
});
