import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runLedger, cliEnv, SQLITE_ONLY } from './fixtures/cli-harness.js';
import { ensureBuilt } from './support/built-app.js';
import { BIZ_A, KEY_B, startTestServer, type TestServer } from './support/test-server.js';

const CLI_ENTRY = resolve('dist/apps/cli/src/main.js');

interface StoredEvent {
  type: string;
  data: { customerId: string; amountMinor?: number; reason?: string | null; idempotencyKey?: string | null };
  metadata: Record<string, string>;
}

function storedEvents(dataDir: string): StoredEvent[] {
  const db = new Database(join(dataDir, 'events.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT type, data, metadata FROM events ORDER BY position').all() as Array<{ type: string; data: string; metadata: string }>;
    return rows.map((r) => ({ type: r.type, data: JSON.parse(r.data) as StoredEvent['data'], metadata: JSON.parse(r.metadata) as Record<string, string> }));
  } finally {
    db.close();
  }
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ledger import (SQLite event store)', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer({ env: SQLITE_ONLY });
    dir = mkdtempSync(join(tmpdir(), 'ledger-import-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports customers, opening balances and history; reports refused lines; a second run applies nothing twice', async () => {
    const file = join(dir, 'history.ndjson');
    const lines = [
      { type: 'customer', ref: 'acme', email: 'ops@acme.test', name: 'Acme', metadata: { plan: 'pro' } },
      { type: 'opening_balance', customer: 'acme', currency: 'USD', amount: 1000 },
      { type: 'entry', customer: 'acme', entry_type: 'debit', currency: 'USD', amount: 300, reason: 'usage', occurred_at: '2024-05-01T10:00:00Z' },
      { type: 'entry', customer: 'acme', entry_type: 'debit', currency: 'USD', amount: 5000, occurred_at: '2024-05-02T10:00:00Z' },
      { type: 'entry', customer: 'nobody', entry_type: 'credit', currency: 'USD', amount: 1, occurred_at: '2024-05-02T10:00:00Z' },
      { type: 'entry', customer: 'acme', entry_type: 'credit', currency: 'USD', amount: 1.5, occurred_at: '2024-05-02T10:00:00Z' },
      { type: 'customer', ref: 'acme', email: 'dup@acme.test', name: 'Duplicate' },
      { type: 'customer', ref: 'globex', email: 'ops@globex.test', name: 'Globex' },
      { type: 'entry', customer: 'globex', entry_type: 'credit', currency: 'INR', amount: 700, occurred_at: '2023-12-31T23:59:59+01:00' },
      { type: 'entry', customer: 'acme', entry_type: 'credit', currency: 'USD', amount: 50, occurred_at: '2024-05-03T00:00:00Z' },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n\nnot json\n`);
    const env = cliEnv(server.config);

    const first = await runLedger(['import', file, '--business', BIZ_A], env);
    // Line 11 is blank (skipped); 12 is not JSON.
    expect(first.stdout).toContain('6 applied, 0 already applied, 5 refused');
    expect(first.code).toBe(1);
    const report = readFileSync(`${file}.refused.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; code: string; message: string });
    expect(report.map((r) => [r.line, r.code]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [4, 'WALLET.INSUFFICIENT_BALANCE'],
      [5, 'CUSTOMER_NOT_FOUND'],
      [6, 'INVALID_LINE'],
      [7, 'CUSTOMER_ALREADY_EXISTS'],
      [12, 'INVALID_LINE'],
    ]);
    expect(report.find((r) => r.line === 6)?.message).toContain('amount must be a whole number');

    // Through the API: the imported customers belong to the business, with their balances.
    const sdk = server.sdk();
    const customers = await eventually(() => sdk.customers.list({ page_size: 100 }), (page) => page.items.length >= 2);
    const acme = customers.items.find((c) => c.email === 'ops@acme.test');
    const globex = customers.items.find((c) => c.email === 'ops@globex.test');
    expect(acme?.metadata).toEqual({ plan: 'pro' });
    const acmeWallets = await eventually(() => sdk.customers.wallets.list(acme!.customer_id), (w) => w.items.find((x) => x.currency === 'USD')?.balance === 750);
    expect(acmeWallets.items.find((w) => w.currency === 'USD')?.balance).toBe(750);
    const globexWallets = await eventually(() => sdk.customers.wallets.list(globex!.customer_id), (w) => w.items.some((x) => x.balance === 700));
    expect(globexWallets.items.find((w) => w.currency === 'INR')?.balance).toBe(700);
    const history = await sdk.customers.wallets.ledgerEntries.list(acme!.customer_id);
    expect(history.items.map((e) => [e.amount, e.is_credit, e.reason])).toEqual([[50, true, null], [300, false, 'usage'], [1000, true, 'import:opening_balance']]);
    // Another business cannot see them.
    await expect(server.sdk(KEY_B).customers.retrieve(acme!.customer_id)).rejects.toMatchObject({ status: 404 });
    // History keeps its original time as metadata.
    const debit = storedEvents(server.dataDir).find((e) => e.type === 'WalletDebited' && e.data.customerId === acme!.customer_id);
    expect(debit?.metadata.occurred_at).toBe('2024-05-01T10:00:00.000Z');
    expect(debit?.data.idempotencyKey).toMatch(/^import:[0-9a-f]{16}:3$/);

    const second = await runLedger(['import', file, '--business', BIZ_A], env);
    expect(second.stdout).toContain('0 applied, 6 already applied, 5 refused');
    expect(second.code).toBe(1);
    expect((await sdk.customers.wallets.ledgerEntries.list(acme!.customer_id)).items).toHaveLength(3);
  });

  it('reads CSV with a header, quoted fields and empty cells', async () => {
    const file = join(dir, 'opening.csv');
    writeFileSync(
      file,
      [
        'type,ref,email,name,customer,currency,amount,entry_type,reason,occurred_at',
        'customer,csv-1,one@csv.test,"One, Inc.",,,,,,',
        'opening_balance,,,,csv-1,USD,2500,,,',
        'entry,,,,csv-1,USD,500,debit,"said ""hi""",2024-01-01T00:00:00Z',
      ].join('\r\n'),
    );
    const run = await runLedger(['import', file, '--business', BIZ_A], cliEnv(server.config));
    expect(run.stdout).toContain('3 applied, 0 already applied, 0 refused');
    expect(run.code).toBe(0);
    const sdk = server.sdk();
    const customers = await eventually(() => sdk.customers.list({ page_size: 100 }), (page) => page.items.some((c) => c.name === 'One, Inc.'));
    const one = customers.items.find((c) => c.name === 'One, Inc.');
    const history = await eventually(() => sdk.customers.wallets.ledgerEntries.list(one!.customer_id), (h) => h.items.length === 2);
    expect(history.items.map((e) => [e.amount, e.reason])).toEqual([[500, 'said "hi"'], [2500, 'import:opening_balance']]);
  });

  it('refuses bad arguments with exit 2', async () => {
    const env = cliEnv(server.config);
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, '{}\n');
    expect((await runLedger(['import', file], env)).code).toBe(2);
    expect((await runLedger(['import', join(dir, 'missing.ndjson'), '--business', BIZ_A], env)).code).toBe(2);
    expect((await runLedger(['import', file, '--business', BIZ_A, '--in-flight', '0'], env)).code).toBe(2);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'type,colour\n');
    expect((await runLedger(['import', bad, '--business', BIZ_A], env)).stderr).toContain('not a usable CSV header');
  });
});

describe('ledger import across SIGKILL', () => {
  let dataDir: string;
  let server: TestServer;
  beforeAll(async () => {
    ensureBuilt(CLI_ENTRY);
    server = await startTestServer({ env: SQLITE_ONLY });
    dataDir = server.dataDir;
  });
  afterAll(async () => server.close());

  it('applies every line exactly once when an interrupted import is run again', async () => {
    const customers = 200;
    // Large enough that the import is still running when the kill comes, even on a fast machine.
    const entriesPerCustomer = 150;
    const lines: string[] = [];
    for (let c = 0; c < customers; c += 1) lines.push(JSON.stringify({ type: 'customer', ref: `k${c}`, email: `k${c}@kill.test`, name: `K ${c}` }));
    for (let c = 0; c < customers; c += 1) lines.push(JSON.stringify({ type: 'opening_balance', customer: `k${c}`, currency: 'USD', amount: 10_000 }));
    for (let i = 0; i < entriesPerCustomer; i += 1) {
      for (let c = 0; c < customers; c += 1) {
        lines.push(JSON.stringify({ type: 'entry', customer: `k${c}`, entry_type: i % 3 === 0 ? 'debit' : 'credit', currency: 'USD', amount: 1 + ((i * 7 + c) % 90), occurred_at: '2024-01-01T00:00:00Z' }));
      }
    }
    const file = join(dataDir, 'big.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const env = { ...process.env, ...cliEnv(server.config) } as Record<string, string>;

    // First run: killed once it has applied part of the file.
    const child = spawn(process.execPath, [CLI_ENTRY, 'import', file, '--business', BIZ_A], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (_code, signal) => r(signal === null ? _code : -1)));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const written = storedEvents(dataDir).filter((e) => e.metadata.import_key !== undefined).length;
      if (written > lines.length / 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe(-1);
    const partial = storedEvents(dataDir).filter((e) => e.metadata.import_key !== undefined).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(lines.length);

    const rerun = await runLedger(['import', file, '--business', BIZ_A], cliEnv(server.config));
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('0 refused');

    // Exactly once: one event per line key, and every line's key is there.
    // One command per line: a customer line writes CustomerCreated (and its WalletOpened events), an entry line one entry.
    const imported = storedEvents(dataDir).filter((e) => e.metadata.import_key !== undefined && e.type !== 'WalletOpened');
    const keys = imported.map((e) => e.metadata.import_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(lines.length);
    // And the balances are what the file says, in file order per customer.
    for (const c of [0, 57, 199]) {
      let expected = 10_000;
      for (let i = 0; i < entriesPerCustomer; i += 1) expected += (i % 3 === 0 ? -1 : 1) * (1 + ((i * 7 + c) % 90));
      const last = imported.filter((e) => (e.type === 'WalletCredited' || e.type === 'WalletDebited') && e.metadata.import_key !== undefined && lines[Number(e.metadata.import_key.split(':')[2]) - 1].includes(`"k${c}"`)).at(-1);
      expect((last?.data as { balanceAfterMinor?: number }).balanceAfterMinor).toBe(expected);
    }
  }, 120_000);
});
