import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_CURRENCIES,
  DomainError,
  EventUpcastError,
  UnknownEventError,
  WALLET_EVENT_SCHEMA_VERSIONS,
  decide,
  decodeWalletEvent,
  encodeWalletEvent,
  evolveAll,
  initialWalletState,
  type DeciderConfig,
  type LedgerEntryData,
  type RecordLedgerEntry,
} from '#domain';
import type { ReplayedEvent } from '#ledger';
import { cliEnv, runLedger } from './fixtures/cli-harness.js';
import { legacyFixture, loadFixtureEvents, type FixtureEvent } from './fixtures/legacy-fixture.js';
import { KEY_A, READ_MODEL_BACKEND, startTestServer, type TestServer } from './support/test-server.js';

const fixture = legacyFixture();
const ADA = 'cus_legacy0001';
const BOB = 'cus_legacy0002';
const CY = 'cus_legacy0003';
const streamOf = (customerId: string) => fixture.events.filter((e) => e.streamId === `wallet-${customerId}`);

describe('event schema evolution: upcasting on read', () => {
  const v1Credit = fixture.events.find(
    (e) => e.type === 'WalletCredited' && e.schemaVersion === 1 && (e.data as { merchantId?: string }).merchantId,
  )!;

  it('stores WalletCredited and WalletDebited at schema version 2, the other events at 1', () => {
    expect(WALLET_EVENT_SCHEMA_VERSIONS).toEqual({
      CustomerCreated: 1,
      CustomerUpdated: 1,
      WalletOpened: 1,
      WalletCredited: 2,
      WalletDebited: 2,
    });
    const data = {
      customerId: 'c',
      businessId: 'b',
      entryId: 'e',
      currency: 'USD',
      amountMinor: 1,
      balanceAfterMinor: 1,
      reason: null,
      idempotencyKey: null,
      occurredAt: 't',
    };
    expect(encodeWalletEvent({ type: 'WalletDebited', data }).schemaVersion).toBe(2);
    expect(
      encodeWalletEvent({ type: 'WalletOpened', data: { customerId: 'c', currency: 'USD', openedAt: 't' } }).schemaVersion,
    ).toBe(1);
  });

  it('turns a v1 entry (merchantId, amount, balanceAfter, no reason) into the current shape', () => {
    expect(v1Credit.data).toEqual({
      customerId: ADA,
      merchantId: 'biz_a',
      entryId: 'wle_legacy0001',
      currency: 'USD',
      amount: 5000,
      balanceAfter: 5000,
      idempotencyKey: 'legacy-order-1',
      occurredAt: '2025-03-01T10:05:00.000Z',
    });
    expect(decodeWalletEvent(v1Credit)).toEqual({
      type: 'WalletCredited',
      data: {
        customerId: ADA,
        businessId: 'biz_a',
        entryId: 'wle_legacy0001',
        currency: 'USD',
        amountMinor: 5000,
        balanceAfterMinor: 5000,
        reason: null,
        idempotencyKey: 'legacy-order-1',
        occurredAt: '2025-03-01T10:05:00.000Z',
      },
    });
  });

  it('gives a v1 entry without an idempotency key a null one', () => {
    const debit = streamOf(ADA).find((e) => e.type === 'WalletDebited')!;
    expect((debit.data as Record<string, unknown>).idempotencyKey).toBeUndefined();
    expect((decodeWalletEvent(debit).data as LedgerEntryData).idempotencyKey).toBeNull();
  });

  it("keeps a v1-labelled event that pre-release builds wrote in today's shape as it is", () => {
    const prerelease = streamOf(CY).find((e) => e.type === 'WalletCredited')!;
    expect(prerelease.schemaVersion).toBe(1);
    expect(decodeWalletEvent(prerelease).data).toEqual(prerelease.data);
  });

  it('passes current events through untouched', () => {
    const current = streamOf(BOB).find((e) => e.schemaVersion === 2)!;
    expect(decodeWalletEvent(current).data).toBe(current.data);
  });

  it('refuses a malformed v1 entry, a version newer than this build, and a nonsense version', () => {
    const { merchantId: _dropped, ...withoutTenant } = v1Credit.data as Record<string, unknown>;
    expect(() => decodeWalletEvent({ ...v1Credit, data: withoutTenant })).toThrow(EventUpcastError);
    expect(() => decodeWalletEvent({ ...v1Credit, data: { ...withoutTenant, merchantId: 'biz_a', amount: '5000' } })).toThrow(
      /amount/,
    );
    expect(() => decodeWalletEvent({ ...v1Credit, schemaVersion: 3 })).toThrow(UnknownEventError);
    expect(() => decodeWalletEvent({ ...v1Credit, schemaVersion: 0 })).toThrow(UnknownEventError);
    expect(() => decodeWalletEvent({ type: 'WalletRenamed', schemaVersion: 1, data: {} })).toThrow(UnknownEventError);
  });

  describe('command handling decides on upcast history', () => {
    const config: DeciderConfig = {
      currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
      idempotencyRetentionMs: 24 * 3_600_000,
    };
    const state = evolveAll(initialWalletState(), streamOf(ADA).map(decodeWalletEvent), config);
    const entry = (overrides: Partial<RecordLedgerEntry>): RecordLedgerEntry => ({
      type: 'RecordLedgerEntry',
      customerId: ADA,
      businessId: 'biz_a',
      entryId: 'wle_new',
      direction: 'credit',
      currency: 'USD',
      amountMinor: 5000,
      reason: null,
      idempotencyKey: null,
      now: '2025-03-01T12:00:00.000Z',
      ...overrides,
    });

    it('sees the legacy balances and profile', () => {
      expect(state.wallets.get('USD')?.balanceMinor).toBe(3800);
      expect(state.wallets.get('INR')?.balanceMinor).toBe(25000);
      expect(state.customer).toMatchObject({ businessId: 'biz_a', name: 'Ada L.' });
    });

    it('refuses a debit above the legacy balance', () => {
      expect(() => decide(entry({ direction: 'debit', amountMinor: 3801 }), state, config)).toThrow(
        expect.objectContaining({
          code: 'WALLET.INSUFFICIENT_BALANCE',
          details: { balance: 3800, amount: 3801, currency: 'USD' },
        }) as DomainError,
      );
    });

    it('answers a retry of a legacy idempotency key as the original (within retention), and refuses a different payload', () => {
      expect(decide(entry({ idempotencyKey: 'legacy-order-1' }), state, config)).toEqual([]);
      expect(() => decide(entry({ idempotencyKey: 'legacy-order-1', amountMinor: 1 }), state, config)).toThrow(
        expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED' }) as DomainError,
      );
    });
  });
});

describe(`a store holding v1 events: replay, audit, rebuild and new commands (read models: ${READ_MODEL_BACKEND})`, () => {
  let dataDir: string;
  let server: TestServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-legacy-'));
    await loadFixtureEvents(dataDir, fixture.events);
    server = await startTestServer({ dataDir });
    env = cliEnv(server.config);
    // The projector catches up with the legacy log in the background after start-up.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const health = (await (await server.fetch('/health', { key: null })).json()) as { projection_checkpoint: number | null };
      if (health.projection_checkpoint === fixture.events.length) break;
      if (Date.now() > deadline) throw new Error(`read models stuck at ${health.projection_checkpoint}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const balances = async (customerId: string) => {
    const { items } = await server.sdk().customers.wallets.list(customerId);
    return Object.fromEntries(items.map((w) => [w.currency, w.balance]));
  };

  it('projects the legacy streams: balances, history with before/after balances, upcast fields', async () => {
    for (const [customerId, expected] of Object.entries(fixture.expected)) {
      expect(await balances(customerId)).toEqual({ USD: expected.USD, INR: expected.INR });
    }
    const history = (await server.sdk().customers.wallets.ledgerEntries.list(ADA, { page_number: 0, page_size: 10 })).items;
    expect(
      history.map((e) => [e.id, e.currency, e.is_credit, e.amount, e.before_balance, e.after_balance, e.reason, e.business_id]),
    ).toEqual([
      ['wle_legacy0005', 'INR', true, 25000, 0, 25000, null, 'biz_a'],
      ['wle_legacy0002', 'USD', false, 1200, 5000, 3800, null, 'biz_a'],
      ['wle_legacy0001', 'USD', true, 5000, 0, 5000, null, 'biz_a'],
    ]);
    expect((await server.sdk().customers.retrieve(ADA)).name).toBe('Ada L.');
  });

  it('replays a legacy stream with stored schema versions and upcast data', async () => {
    const run = await runLedger(['replay', ADA, '--json'], env);
    expect(run.code).toBe(0);
    const { events } = JSON.parse(run.stdout) as { events: ReplayedEvent[] };
    expect(events.map((e) => [e.revision, e.type, e.schemaVersion, e.upcast])).toEqual([
      [0, 'CustomerCreated', 1, false],
      [1, 'WalletOpened', 1, false],
      [2, 'WalletOpened', 1, false],
      [3, 'WalletCredited', 1, true],
      [4, 'WalletDebited', 1, true],
      [5, 'WalletCredited', 1, true],
      [6, 'CustomerUpdated', 1, false],
    ]);
    expect(events[3].data).toMatchObject({ businessId: 'biz_a', amountMinor: 5000, balanceAfterMinor: 5000, reason: null });
    expect(events[3].metadata).toEqual({
      recordedAt: '2025-03-01T10:05:00.000Z',
      occurredAt: '2025-03-01T10:05:00.000Z',
      idempotencyKey: 'legacy-order-1',
      correlationId: 'req-3',
      causationId: `cmd-${ADA}-3`,
      actor: 'key_legacy00001',
    });
    const text = await runLedger(['replay', ADA], env);
    expect(text.stdout).toContain('WalletCredited v1 (upcast to v2)');
  });

  it('audits clean, and a rebuild from the legacy log audits clean too', async () => {
    const audit = await runLedger(['audit', '--json'], env);
    expect(audit.code).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({
      ok: true,
      totals: { customers: 3, events: fixture.events.length, entries: 7, balancesFromEvents: { INR: 34900, USD: 3950 } },
    });
    const rebuild = await runLedger(['projections', 'rebuild', '--drop-after', '1.5'], env);
    expect(rebuild.stderr).toBe('');
    expect(rebuild.code).toBe(0);
    const after = await runLedger(['audit', '--json'], env);
    expect(JSON.parse(after.stdout)).toMatchObject({ ok: true, readModelVersion: 2, totals: { events: fixture.events.length } });
    expect(await balances(ADA)).toEqual({ USD: 3800, INR: 25000 });
  });

  it('takes new commands on a legacy customer through the real command path, stored at the current version', async () => {
    const sdk = server.sdk(KEY_A);
    expect(
      (
        await sdk.customers.wallets.ledgerEntries.create(ADA, {
          amount: 200,
          currency: 'USD',
          entry_type: 'credit',
          reason: 'after upgrade',
        })
      ).balance,
    ).toBe(4000);
    await expect(
      sdk.customers.wallets.ledgerEntries.create(BOB, { amount: 151, currency: 'USD', entry_type: 'debit' }),
    ).rejects.toMatchObject({ status: 400 });
    expect(
      (await sdk.customers.wallets.ledgerEntries.create(BOB, { amount: 150, currency: 'USD', entry_type: 'debit' })).balance,
    ).toBe(0);
    const { events } = JSON.parse((await runLedger(['replay', ADA, '--json'], env)).stdout) as { events: ReplayedEvent[] };
    expect(events.at(-1)).toMatchObject({
      revision: 7,
      type: 'WalletCredited',
      schemaVersion: 2,
      upcast: false,
      data: { amountMinor: 200, balanceAfterMinor: 4000 },
    });
    const audit = await runLedger(['audit'], env);
    expect(audit.stdout).toContain('result: OK');
    expect(audit.code).toBe(0);
  });
});

// Keeps the fixture honest: every stream's revisions run 0..n-1 in global order.
test('the legacy fixture is a well-formed log', () => {
  const next = new Map<string, number>();
  for (const event of fixture.events as FixtureEvent[]) {
    expect(event.revision).toBe(next.get(event.streamId) ?? 0);
    next.set(event.streamId, event.revision + 1);
  }
});
