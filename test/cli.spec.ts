import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '#event-store';
import { generateLedger } from '../bench/ledger-generator.js';
import { runLedger } from './fixtures/cli-harness.js';
import { legacyFixture, loadFixtureEvents } from './fixtures/legacy-fixture.js';

const envFor = (dataDir: string): NodeJS.ProcessEnv => ({ NODE_ENV: 'test', LOG_LEVEL: 'error', DATA_DIR: dataDir });

describe('ledger CLI: arguments, help and exit codes', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-cli-'));
    await loadFixtureEvents(dataDir, legacyFixture().events);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([
    [['--help'], 'Usage: ledger <command>'],
    [['help'], 'Usage: ledger <command>'],
    [['help', 'audit'], 'Usage: ledger audit'],
    [['replay', '--help'], 'Usage: ledger replay <customer_id>'],
    [['audit', '-h'], 'Usage: ledger audit [--customer <customer_id>] [--json]'],
    [['projections', '--help'], 'Usage: ledger projections <command>'],
    [['projections', 'status', '--help'], 'Usage: ledger projections status'],
    [['projections', 'rebuild', '--help'], 'Usage: ledger projections rebuild [--name wallet] [--keep-old]'],
  ])('%j prints help and exits 0 without touching a store', async (args, expected) => {
    const run = await runLedger(args, { DATA_DIR: '/nonexistent/never-created' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(expected);
  });

  it.each([
    [[], 'Usage: ledger <command>'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['replay'], 'replay takes exactly one customer id'],
    [['replay', 'a', 'b'], 'replay takes exactly one customer id'],
    [['audit', '--verbose'], "Unknown option '--verbose'"],
    [['audit', 'cus_x'], 'did you mean --customer cus_x?'],
    [['audit', '--customer'], "Option '--customer <value>' argument missing"],
    [['projections'], 'Usage: ledger projections <command>'],
    [['projections', 'drop'], 'unknown projections command "drop"'],
    [['projections', 'rebuild', '--name', 'orders'], 'unknown projection "orders"'],
    [['projections', 'rebuild', '--batch-size', '0'], '--batch-size must be a whole number'],
    [['projections', 'rebuild', '--drop-after', 'soon'], '--drop-after must be a number of seconds'],
  ])('%j is a usage error (exit 2)', async (args, expected) => {
    const run = await runLedger(args, envFor(dataDir));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(expected);
  });

  it('reports a configuration problem as a usage error, like the API would refuse to start', async () => {
    const run = await runLedger(['audit'], { ...envFor(dataDir), CURRENCIES: 'XYZ' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Invalid configuration');
  });

  it('refuses to audit a DATA_DIR without an event store instead of creating one', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ledger-cli-empty-'));
    try {
      const run = await runLedger(['audit'], envFor(empty));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`no event store at ${join(empty, 'events.sqlite')}`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('replays a customer as text, and exits 1 for a customer without events', async () => {
    const run = await runLedger(['replay', 'cus_legacy0002'], envFor(dataDir));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('customer cus_legacy0002: stream wallet-cus_legacy0002, 6 event(s)');
    expect(run.stdout).toMatch(/#5 {2}position \d+ {2}WalletCredited v2\n/);
    expect(run.stdout).toContain(
      'idempotency key legacy-order-2 | correlation req-9 | causation cmd-cus_legacy0002-4 | actor key_legacy00001',
    );
    const missing = await runLedger(['replay', 'cus_nobody'], envFor(dataDir));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no events for customer cus_nobody');
  });

  it('shows projection status before anything was projected: all of the log is lag', async () => {
    const run = await runLedger(['projections', 'status'], envFor(dataDir));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/projection +active +checkpoint +lag \(events\) +state\nwallet +v1 +none +17 +live/);
  });
});

describe('ledger projections rebuild: progress, --keep-old', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-cli-rebuild-'));
    const store = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 5000,
      idlePollMs: 200,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    await generateLedger(store, { customers: 200, events: 20_000, businessId: 'biz_cli' });
    await store.close();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('draws a progress bar on a terminal, then keeps the old version with --keep-old', async () => {
    // Nothing projected yet: the audit says so instead of passing silently.
    const before = await runLedger(['audit'], envFor(dataDir));
    expect(before.code).toBe(0);
    expect(before.stdout).toContain('note: 20,000 event(s) after the checkpoint are not projected yet and were not audited');
    const run = await runLedger(['projections', 'rebuild', '--keep-old', '--batch-size', '500'], envFor(dataDir), { tty: true });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\r\x1b\[2Kv2 \[[#-]{30}\] +\d+% [\d,]+\/20,000 events, [\d,]+ events\/s, ETA/);
    expect(run.stdout).toContain('kept wallet v1 (--keep-old)');
    expect(run.stdout).toMatch(/rebuilt wallet v2: 20,000 events in .* active v2, v1 kept/);
    const db = new Database(join(dataDir, 'read-models.sqlite'), { readonly: true });
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'wallet_v%'").all() as Array<{ name: string }>
    ).map((r) => r.name);
    db.close();
    expect(tables.sort()).toEqual([
      'wallet_v1_businesses',
      'wallet_v1_customers',
      'wallet_v1_entries',
      'wallet_v1_wallets',
      'wallet_v2_businesses',
      'wallet_v2_customers',
      'wallet_v2_entries',
      'wallet_v2_wallets',
    ]);
  });

  it('prints plain progress lines when not on a terminal, and builds the next version again', async () => {
    const run = await runLedger(['projections', 'rebuild', '--drop-after', '0'], envFor(dataDir));
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout).toMatch(/^rebuild v3: [\d,]+\/20,000 events, [\d,]+ events\/s, ETA .*\(\d+%\)$/m);
    expect(run.stdout).toContain('dropped wallet v2');
    const audit = await runLedger(['audit'], envFor(dataDir));
    expect(audit.stdout).toContain('read models wallet v3');
    expect(audit.stdout).toContain('customers: 200  events: 20,000');
    expect(audit.code).toBe(0);
  });
});
