import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CURRENCIES, decide, encodeWalletEvent, initialWalletState, walletStreamId, type DeciderConfig } from '#domain';
import { CheckpointNotInLogError, InMemoryEventStore, SqliteEventStore, type EventStore } from '#event-store';
import { SqliteReadModelStore, type ReadModelStore } from '#read-models';
import { openReadModels } from '../backends.js';
import { loadLedgerConfig } from '../ledger-config.js';
import { WalletProjector } from './wallet-projector.js';

const config: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: 86_400_000,
};

/** One new customer, written the way the write side writes it. */
async function createCustomer(store: EventStore, businessId = 'biz_log'): Promise<number> {
  const customerId = `cus_${randomUUID().slice(0, 8)}`;
  const events = decide(
    {
      type: 'CreateCustomer',
      customerId,
      businessId,
      email: `${customerId}@example.com`,
      name: 'Ada',
      phoneNumber: null,
      metadata: {},
      now: '2026-01-01T00:00:00.000Z',
    },
    initialWalletState(),
    config,
  );
  const result = await store.append(
    walletStreamId(customerId),
    'no_stream',
    events.map((event) => ({ eventId: randomUUID(), ...encodeWalletEvent(event), metadata: {} })),
  );
  return result.lastPosition;
}

async function projectUntil(projector: WalletProjector, readModels: ReadModelStore, position: number): Promise<void> {
  await projector.start();
  const deadline = Date.now() + 5_000;
  while (((await readModels.checkpoint()) ?? 0) < position) {
    if (Date.now() > deadline) throw new Error(`projector did not reach ${position}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await projector.stop();
}

const options = { batchSizeMax: 100, restartDelayMs: 60_000, log: () => undefined };

describe('WalletProjector refuses a checkpoint from another log', () => {
  let dir: string;
  let readModels: SqliteReadModelStore;
  const logs: EventStore[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'projector-log-'));
    readModels = new SqliteReadModelStore({ filename: join(dir, 'read-models.sqlite'), busyTimeoutMs: 1000 });
  });
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((log) => log.close()));
    await readModels.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = <T extends EventStore>(log: T): T => {
    logs.push(log);
    return log;
  };

  it('records the log it projects, resumes on it, and refuses a different log of the same length', async () => {
    const original = open(new InMemoryEventStore());
    const head = await createCustomer(original);
    await projectUntil(new WalletProjector(original, readModels, options), readModels, head);
    const identity = await readModels.logIdentity();
    expect(identity).toMatch(/@1$/);

    // The same log again: fine.
    await createCustomer(original);
    await projectUntil(new WalletProjector(original, readModels, options), readModels, (await original.headPosition())!);

    // Another log, as long as the checkpoint (the backend was switched): its positions exist, its events are others.
    const other = open(new InMemoryEventStore());
    await createCustomer(other);
    await createCustomer(other);
    await createCustomer(other);
    await expect(new WalletProjector(other, readModels, options).start()).rejects.toThrow(CheckpointNotInLogError);
    expect(await readModels.logIdentity()).toBe(identity);
  });

  it('refuses a checkpoint beyond the end of the SQLite log (its file was wiped)', async () => {
    const first = open(
      new SqliteEventStore({
        filename: join(dir, 'events.sqlite'),
        groupCommitMax: 16,
        idlePollMs: 20,
        busyTimeoutMs: 1000,
        clock: () => new Date(),
      }),
    );
    await createCustomer(first);
    const head = await createCustomer(first);
    await projectUntil(new WalletProjector(first, readModels, options), readModels, head);

    const wiped = open(
      new SqliteEventStore({
        filename: join(dir, 'events-new.sqlite'),
        groupCommitMax: 16,
        idlePollMs: 20,
        busyTimeoutMs: 1000,
        clock: () => new Date(),
      }),
    );
    await expect(new WalletProjector(wiped, readModels, options).start()).rejects.toThrow(/beyond the end of the log \(empty\)/);
    await createCustomer(wiped);
    await expect(new WalletProjector(wiped, readModels, options).start()).rejects.toThrow(CheckpointNotInLogError);
  });

  it('checks the log through the active-version read models that the API and the projector use', async () => {
    const config = loadLedgerConfig({ NODE_ENV: 'test', DATA_DIR: join(dir, 'active'), API_KEYS: 'sk_test_log_identity:biz_log', LOG_LEVEL: 'error' });
    const active = await openReadModels(config);
    try {
      const original = open(new InMemoryEventStore());
      const head = await createCustomer(original);
      await projectUntil(new WalletProjector(original, active, options), active, head);
      const other = open(new InMemoryEventStore());
      await createCustomer(other);
      await createCustomer(other);
      await expect(new WalletProjector(other, active, options).start()).rejects.toThrow(CheckpointNotInLogError);
    } finally {
      await active.close();
    }
  });

  it('records the identity with the first batch when the log was empty at start', async () => {
    const log = open(new InMemoryEventStore());
    const projector = new WalletProjector(log, readModels, options);
    await projector.start();
    expect(await readModels.logIdentity()).toBeNull();
    const head = await createCustomer(log);
    const deadline = Date.now() + 5_000;
    while (((await readModels.checkpoint()) ?? 0) < head && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await projector.stop();
    expect(await readModels.logIdentity()).toMatch(/@1$/);
  });
});
