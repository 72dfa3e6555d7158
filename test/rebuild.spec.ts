import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../apps/api/src/create-app.js';
import { generateLedger } from '../bench/ledger-generator.js';
import { type EventStore, SqliteEventStore, type LogHead } from '#event-store';
import {
  ActiveReadModels,
  auditLedger,
  loadLedgerConfig,
  openLogHead,
  openReadModelBackend,
  projectionStatus,
  READ_MODELS,
  rebuildProjection,
  RebuildInterruptedError,
  WalletProjector,
  type LedgerConfig,
  type ReadModelBackend,
  type RebuildProgress,
  type ReplayedEvent,
} from '#ledger';
import { SqliteReadModelStore } from '#read-models';
import { cliEnv, runLedger, SQLITE_ONLY } from './fixtures/cli-harness.js';
import { spawn } from 'node:child_process';
import { ensureBuilt } from './support/built-app.js';
import { BIZ_A, KEY_A } from './support/test-server.js';

const CLI = 'dist/apps/cli/src/main.js';

function sqliteConfig(dataDir: string, extra: Record<string, string> = {}): LedgerConfig {
  return loadLedgerConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    API_KEYS: `${KEY_A}:${BIZ_A}`,
    LOG_LEVEL: 'error',
    ...SQLITE_ONLY,
    ...extra,
  });
}

async function generatedStore(dataDir: string, events: number, customers: number): Promise<void> {
  const store = new SqliteEventStore({
    filename: join(dataDir, 'events.sqlite'),
    groupCommitMax: 5000,
    idlePollMs: 200,
    busyTimeoutMs: 5000,
    clock: () => new Date(),
  });
  await generateLedger(store, { customers, events, businessId: BIZ_A });
  await store.close();
}

/** Every stored event, fingerprinted: the write side must come out of a rebuild untouched. */
function eventsFingerprint(dataDir: string): string {
  const db = new Database(join(dataDir, 'events.sqlite'), { readonly: true });
  try {
    const hash = createHash('sha256');
    for (const row of db.prepare('SELECT * FROM events ORDER BY position').iterate()) hash.update(JSON.stringify(row));
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('read-model schema change through a rebuild (layout 1 -> 2), with the API live', () => {
  let dataDir: string;
  let app: NestFastifyApplication;
  let base: string;
  let config: LedgerConfig;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-layout-'));
    // Read models as the previous release built them: wallet v1 in layout 1 (no event positions).
    const old = new SqliteReadModelStore({ filename: join(dataDir, 'read-models.sqlite'), busyTimeoutMs: 5000, layout: 1 }, 1);
    expect(old.layout).toBe(1);
    await old.close();
    config = sqliteConfig(dataDir);
    app = await createApp(config);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const http = async (path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return response.json() as Promise<Record<string, unknown>>;
  };

  it('rebuilds into the new layout, the API serves it, the streams stay as they were', async () => {
    const readModels = app.get<ActiveReadModels>(READ_MODELS);
    expect(readModels).toBeInstanceOf(ActiveReadModels);
    const { customer_id: id } = (await http('/customers', { email: 'layout@example.com', name: 'Layout' })) as {
      customer_id: string;
    };
    for (const amount of [500, 300, 200])
      await http(`/customers/${id}/wallets/ledger-entries`, { amount, currency: 'USD', entry_type: 'credit' });
    const before = await readModels.listLedgerEntries(id, { pageNumber: 0, pageSize: 10 });
    expect(before).toHaveLength(3);
    expect(before.every((e) => e.eventPosition === undefined)).toBe(true);
    const historyBefore = await http(`/customers/${id}/wallets/ledger-entries`);
    const walletsBefore = await http(`/customers/${id}/wallets`);
    const fingerprint = eventsFingerprint(dataDir);

    const rebuild = await runLedger(['projections', 'rebuild', '--drop-after', '1.5'], cliEnv(config));
    expect(rebuild.code).toBe(0);
    await until(() => readModels.activeVersion === 2, 5000);

    const after = await readModels.listLedgerEntries(id, { pageNumber: 0, pageSize: 10 });
    const { events } = JSON.parse((await runLedger(['replay', id, '--json'], cliEnv(config))).stdout) as {
      events: ReplayedEvent[];
    };
    const entryPositions = events
      .filter((e) => e.type === 'WalletCredited')
      .map((e) => e.position)
      .reverse();
    expect(after.map((e) => e.eventPosition)).toEqual(entryPositions);
    expect(after.map(({ eventPosition: _position, ...rest }) => rest)).toEqual(before);
    // The HTTP answers are unchanged, and the write side was not touched.
    expect(await http(`/customers/${id}/wallets/ledger-entries`)).toEqual(historyBefore);
    expect(await http(`/customers/${id}/wallets`)).toEqual(walletsBefore);
    expect(eventsFingerprint(dataDir)).toBe(fingerprint);
    // The live projector now builds the new layout: a new entry carries its event's position.
    await http(`/customers/${id}/wallets/ledger-entries`, { amount: 1, currency: 'USD', entry_type: 'debit' });
    const newest = (await readModels.listLedgerEntries(id, { pageNumber: 0, pageSize: 1 }))[0];
    expect(newest).toMatchObject({ amountMinor: 1, isCredit: false, afterBalanceMinor: 999 });
    expect(newest.eventPosition).toBeGreaterThan(entryPositions[0]);
    const db = new Database(join(dataDir, 'read-models.sqlite'), { readonly: true });
    const indexes = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'wallet_v2_entries'").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    db.close();
    expect(indexes).toContain('wallet_v2_entries_event_position');
  });
});

describe('a projector process and an API process follow a switch on their own', () => {
  it("the projector moves its writes to v2 from v2's checkpoint; the reader moves once v2 has caught up", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledger-follow-'));
    const config = sqliteConfig(dataDir);
    await generatedStore(dataDir, 3_000, 30);
    const events = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 100,
      idlePollMs: 20,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    const options = { name: 'wallet', initialVersion: 1, pollMs: 50, catchUpTimeoutMs: 2000, closeGraceMs: 200 };
    const projectorSide = await ActiveReadModels.open(await openReadModelBackend(config), options);
    const apiSide = await ActiveReadModels.open(await openReadModelBackend(config), options);
    const projector = new WalletProjector(events, projectorSide, { batchSizeMax: 200, restartDelayMs: 50, log: () => undefined });
    const logHead = openLogHead(config, events);
    try {
      await projector.start();
      await until(async () => (await apiSide.checkpoint()) === 3_000, 10_000);
      const backend = await openReadModelBackend(config);
      await rebuildProjection({ eventStore: events, backend, logHead }, { dropDelayMs: 300, leaseRenewMs: 100 });
      await backend.close();
      await until(() => projectorSide.activeVersion === 2 && apiSide.activeVersion === 2, 5000);
      // New events after the switch land in v2, through the projector that was feeding v1.
      await generateMore(events);
      await until(async () => (await apiSide.checkpoint()) === 3_010, 5000);
      const report = await auditLedger({ eventStore: events, readModels: apiSide, readModelVersion: 2, logHead });
      expect(report).toMatchObject({ ok: true, readModelVersion: 2, checkpoint: 3_010, lag: 0 });
    } finally {
      await projector.stop();
      await logHead.close();
      await projectorSide.close();
      await apiSide.close();
      await events.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  /** Ten profile changes on the first customer, appended as the API would. */
  async function generateMore(store: EventStore): Promise<void> {
    const [first] = await store.readAll({ after: null, maxCount: 1 });
    const stream = await store.readStream(first.streamId, { fromRevision: 0, maxCount: 1000 });
    const customer = (first.data as { customerId: string }).customerId;
    const last = stream[stream.length - 1];
    const occurredAt = new Date().toISOString();
    const updates = Array.from({ length: 10 }, (_, i) => ({
      eventId: `more-${i}`,
      type: 'CustomerUpdated',
      schemaVersion: 1,
      data: { customerId: customer, name: `Renamed ${i}`, updatedAt: occurredAt },
      metadata: {},
    }));
    await store.append(first.streamId, last.revision, updates);
  }
});

describe('a reader that missed the switch', () => {
  it('meets the dropped version, looks at the registry again and answers from the new one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledger-missed-'));
    const config = sqliteConfig(dataDir);
    await generatedStore(dataDir, 1_000, 10);
    const events = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 100,
      idlePollMs: 20,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    // Never polls on its own: only a failed read makes it look at the registry.
    const reader = await ActiveReadModels.open(await openReadModelBackend(config), {
      name: 'wallet',
      initialVersion: 1,
      pollMs: 3_600_000,
      catchUpTimeoutMs: 1000,
      closeGraceMs: 100,
    });
    const logHead = openLogHead(config, events);
    const backend = await openReadModelBackend(config);
    try {
      await rebuildProjection({ eventStore: events, backend, logHead }, { dropDelayMs: 0 });
      expect(reader.activeVersion).toBe(1);
      const [first] = await events.readAll({ after: null, maxCount: 1 });
      const customerId = (first.data as { customerId: string }).customerId;
      const wallets = await reader.listWallets(customerId);
      expect(reader.activeVersion).toBe(2);
      expect(wallets.map((w) => w.currency)).toEqual(['INR', 'USD']);
    } finally {
      await backend.close();
      await logHead.close();
      await reader.close();
      await events.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * MongoDB reads a dropped collection as empty instead of failing, so a reader on a dropped
 * version finds nothing (a 404 at the API). The same SQLite backend, with the dropped
 * version answering as MongoDB does, drives that path of `ActiveReadModels` without a server
 * (`rebuild-mongo.e2e.spec.ts` has it on a real one).
 */
describe('a reader on a version dropped under it that reads as empty (as MongoDB does)', () => {
  function readingDroppedAsEmpty(backend: ReadModelBackend, dropped: Set<number>): ReadModelBackend {
    return {
      ...backend,
      registry: backend.registry,
      checkpointOf: (version) => backend.checkpointOf(version),
      lease: (name) => backend.lease(name),
      close: () => backend.close(),
      openVersion: async (version) => {
        const store = await backend.openVersion(version);
        const gone = () => dropped.has(version);
        return {
          ...store,
          applyEvents: (events) => store.applyEvents(events),
          close: () => store.close(),
          drop: async () => {
            dropped.add(version);
            await store.drop();
          },
          checkpoint: async () => (gone() ? null : store.checkpoint()),
          logIdentity: async () => (gone() ? null : (store.logIdentity?.() ?? null)),
          findCustomer: async (businessId, customerId) => (gone() ? null : store.findCustomer(businessId, customerId)),
          listCustomers: async (businessId, query) => (gone() ? [] : store.listCustomers(businessId, query)),
          listWallets: async (customerId) => (gone() ? [] : store.listWallets(customerId)),
          listLedgerEntries: async (customerId, query) => (gone() ? [] : store.listLedgerEntries(customerId, query)),
        };
      },
    };
  }

  it('finds nothing, follows the registry and answers from the new version instead of "not found"', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledger-dropped-empty-'));
    const config = sqliteConfig(dataDir);
    await generatedStore(dataDir, 1_000, 10);
    const events = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 100,
      idlePollMs: 20,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    const dropped = new Set<number>();
    const logHead = openLogHead(config, events);
    const backend = readingDroppedAsEmpty(await openReadModelBackend(config), dropped);
    let reader: ActiveReadModels | null = null;
    try {
      // v2 is built and served; the reader opens on it and never polls on its own.
      await rebuildProjection({ eventStore: events, backend, logHead }, { dropDelayMs: 0 });
      reader = await ActiveReadModels.open(readingDroppedAsEmpty(await openReadModelBackend(config), dropped), {
        name: 'wallet',
        initialVersion: 1,
        pollMs: 3_600_000,
        catchUpTimeoutMs: 1000,
        closeGraceMs: 100,
      });
      const [first] = await events.readAll({ after: null, maxCount: 1 });
      const customerId = (first.data as { customerId: string }).customerId;
      expect(await reader.findCustomer(BIZ_A, customerId)).not.toBeNull();

      await rebuildProjection({ eventStore: events, backend, logHead }, { dropDelayMs: 0 });
      expect(dropped.has(2)).toBe(true);
      expect(reader.activeVersion).toBe(2);

      expect((await reader.findCustomer(BIZ_A, customerId))?.customerId).toBe(customerId);
      expect(reader.activeVersion).toBe(3);
      expect((await reader.listWallets(customerId)).map((w) => w.currency)).toEqual(['INR', 'USD']);
      expect(await reader.checkpoint()).toBe(1_000);
      // A customer that does not exist is still not found, after one look at the registry.
      expect(await reader.findCustomer(BIZ_A, 'cus_nobody')).toBeNull();
    } finally {
      await reader?.close();
      await backend.close();
      await logHead.close();
      await events.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("a rebuild stopped part-way resumes from the new version's checkpoint", () => {
  let dataDir: string;
  let config: LedgerConfig;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-resume-'));
    config = sqliteConfig(dataDir);
    await generatedStore(dataDir, 30_000, 300);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function open(): Promise<{
    eventStore: EventStore;
    logHead: LogHead;
    close(): Promise<void>;
    backend: Awaited<ReturnType<typeof openReadModelBackend>>;
  }> {
    const eventStore = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 100,
      idlePollMs: 200,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    const backend = await openReadModelBackend(config);
    const logHead = openLogHead(config, eventStore);
    return {
      eventStore,
      backend,
      logHead,
      close: async () => (await logHead.close(), await backend.close(), await eventStore.close()),
    };
  }

  it('continues where it stopped, then switches and audits clean', async () => {
    const first = await open();
    const abort = new AbortController();
    const seen: RebuildProgress[] = [];
    await expect(
      rebuildProjection(first, {
        batchSize: 1000,
        leaseTtlMs: 400,
        leaseRenewMs: 100,
        onProgress: (p) => {
          seen.push(p);
          if (p.done >= 5000) abort.abort();
        },
        signal: abort.signal,
      }),
    ).rejects.toThrow(RebuildInterruptedError);
    const [status] = await projectionStatus(first.backend, first.logHead);
    expect(status).toMatchObject({
      name: 'wallet',
      activeVersion: 1,
      state: 'rebuilding',
      rebuilding: { version: 2, checkpoint: 5000, lag: 25_000 },
    });
    await first.close();

    // The interrupted run left its lease to lapse, as a killed one would: the next run waits for it.
    const second = await open();
    const result = await rebuildProjection(second, { batchSize: 1000, dropDelayMs: 0 });
    expect(result).toMatchObject({ from: 1, to: 2, resumed: true, startedFrom: 5000, events: 25_000, droppedOld: true });
    const readModels = await second.backend.openVersion(2);
    const report = await auditLedger({ eventStore: second.eventStore, readModels, readModelVersion: 2, logHead: second.logHead });
    expect(report).toMatchObject({ ok: true, totals: { customers: 300, events: 30_000 } });
    await readModels.close();
    await second.close();
  });
});

describe('a rebuild killed with SIGKILL (the built CLI) resumes on the next run', () => {
  let dataDir: string;
  beforeAll(async () => {
    ensureBuilt(CLI);
    dataDir = mkdtempSync(join(tmpdir(), 'ledger-sigkill-'));
    await generatedStore(dataDir, 120_000, 1_200);
  }, 180_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is left "rebuilding" with its progress kept, and the next run finishes from there', async () => {
    const env = { NODE_ENV: 'test', LOG_LEVEL: 'error', DATA_DIR: dataDir, MONGODB_URL: '' };
    const child = spawn(process.execPath, [CLI, 'projections', 'rebuild', '--batch-size', '2000'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await until(() => /rebuild v2: [\d,]+\/120,000 events/.test(output), 30_000);
    // Let it commit a few batches, then kill it without warning.
    await new Promise((resolve) => setTimeout(resolve, 400));
    child.kill('SIGKILL');
    await exited;
    expect(output).not.toContain('is active');

    const status = await runLedger(['projections', 'status', '--json'], env);
    const [wallet] = JSON.parse(status.stdout) as Array<{ state: string; rebuilding: { version: number; checkpoint: number } }>;
    expect(wallet.state).toBe('rebuilding');
    expect(wallet.rebuilding.version).toBe(2);
    expect(wallet.rebuilding.checkpoint).toBeGreaterThan(0);
    expect(wallet.rebuilding.checkpoint).toBeLessThan(120_000);

    const resumed = await runLedger(['projections', 'rebuild', '--drop-after', '0'], env);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('resuming the rebuild of wallet v2');
    // Its killed predecessor ran on this host, so its lease is taken at once rather than waited out.
    expect(resumed.stdout).not.toContain('waiting for the wallet rebuild lease');
    expect(resumed.stdout).toContain(`resumed from position ${wallet.rebuilding.checkpoint}`);
    const audit = await runLedger(['audit'], env);
    expect(audit.stdout).toContain('customers: 1,200  events: 120,000');
    expect(audit.code).toBe(0);
  }, 90_000);
});
