import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    for (let i = 0; i < 10; i += 1)
      await sdk.customers.wallets.ledgerEntries.create(id, { amount: 10, currency: 'USD', entry_type: 'credit' });
    expect((await sdk.customers.wallets.list(id)).items.find((w) => w.currency === 'USD')?.balance).toBe(100);
    expect(b.output()).not.toMatch(/holds the projection lease/);

    // A burst is being written and projected when A dies: A is killed mid-catch-up, and each
    // answer waits until the stand-by has taken over and caught up.
    const burst = Promise.all(
      Array.from({ length: 60 }, () =>
        sdk.customers.wallets.ledgerEntries.create(id, { amount: 1, currency: 'USD', entry_type: 'credit' }),
      ),
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

/**
 * The projector container's healthcheck reads a file the projector rewrites with its health:
 * the lease holder reports its heartbeat and lag, a stand-by reports standing by, and the
 * healthcheck script turns that into the exit code docker records.
 */
describe(`projector health file (read models: ${READ_MODEL_BACKEND})`, () => {
  const HEALTHCHECK = 'dist/apps/projector/src/healthcheck.js';
  let server: TestServer;
  let dir: string;
  const children: ChildHandle[] = [];

  beforeAll(async () => {
    ensureBuilt(HEALTHCHECK);
    server = await startTestServer({ env: { PROJECTOR_MODE: 'external', READ_YOUR_WRITES_TIMEOUT_MS: '15000' } });
    dir = mkdtempSync(join(tmpdir(), 'projector-health-e2e-'));
  }, 120_000);
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const envFor = (healthFile: string): Record<string, string> => ({
    DATA_DIR: server.dataDir,
    API_KEYS: 'sk_unused_by_projector:biz_x',
    LOG_LEVEL: 'info',
    PROJECTOR_HEALTH_FILE: healthFile,
    ...(server.config.mongoUrl ? { MONGODB_URL: server.config.mongoUrl, MONGODB_DB: server.config.mongoDbName } : {}),
  });

  async function healthOf(
    file: string,
    predicate: (health: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (existsSync(file)) {
        const health = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        if (predicate(health)) return health;
        if (Date.now() > deadline) throw new Error(`health never matched; last: ${JSON.stringify(health)}`);
      } else if (Date.now() > deadline) throw new Error(`no health file at ${file}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  function healthcheck(file: string | null): { status: number | null; stdout: string } {
    const env = { ...process.env, PROJECTOR_HEALTH_FILE: file ?? '' };
    const result = spawnSync(process.execPath, [HEALTHCHECK], { env, encoding: 'utf8', timeout: 10_000 });
    return { status: result.status, stdout: result.stdout };
  }

  it('reports heartbeat and lag for the holder, standing by for the other, and the healthcheck passes both', async () => {
    const holderFile = join(dir, 'holder.json');
    const holder = startChild(PROJECTOR, envFor(holderFile));
    children.push(holder);
    await holder.waitForOutput(/holds the projection lease/, 20_000);
    const sdk = server.sdk();
    const { customer_id: id } = await sdk.customers.create({ email: 'health@example.com', name: 'Health' });
    await sdk.customers.wallets.ledgerEntries.create(id, { amount: 10, currency: 'USD', entry_type: 'credit' });

    // The file is rewritten every 5 s: wait for one written after the entry was projected.
    const health = await healthOf(holderFile, (h) => typeof h.appliedPosition === 'number' && h.appliedPosition > 1);
    expect(health).toMatchObject({ ready: true, state: 'projecting', lagPositions: 0, problems: [] });
    expect(health.headPosition).toBe(health.appliedPosition);
    expect(typeof health.heartbeatAt).toBe('string');
    expect(healthcheck(holderFile)).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^state projecting, lag 0 positions/),
    });

    const standbyFile = join(dir, 'standby.json');
    const standby = startChild(PROJECTOR, envFor(standbyFile));
    children.push(standby);
    expect(await healthOf(standbyFile, () => true)).toMatchObject({ ready: true, state: 'standing-by', lagPositions: null });
    expect(healthcheck(standbyFile).status).toBe(0);

    // No file (a projector that never started, or a path mismatch) is unhealthy, and says why.
    expect(healthcheck(join(dir, 'missing.json'))).toMatchObject({ status: 1, stdout: expect.stringMatching(/no health file/) });
    expect(healthcheck(null).status).toBe(1);
  }, 90_000);
});
