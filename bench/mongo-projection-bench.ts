import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_CURRENCIES,
  decide,
  decodeWalletEvent,
  encodeWalletEvent,
  initialWalletState,
  evolveAll,
  walletStreamId,
  type DeciderConfig,
  type WalletState,
} from '#domain';
import { SqliteEventStore } from '#event-store';
import { WalletProjector } from '#ledger';
import { MongoReadModelStore } from '#read-models/mongo';
import { generateLedger } from './ledger-generator.js';

/**
 * Projection into MongoDB (issue: production backends): catch-up throughput in events/s
 * over a generated log, then the live latency from a committed append to the moment the
 * Mongo read model shows it. Runs only when MONGODB_URL is set (CI: FerretDB).
 */
const CATCH_UP_EVENTS = Number(process.env.BENCH_MONGO_EVENTS ?? 400);
/** FerretDB has been seen to stall on larger collections; report what was projected by then. */
const CATCH_UP_DEADLINE_MS = Number(process.env.BENCH_MONGO_DEADLINE_MS ?? 90_000);
// FerretDB (SQLite handler) scans whole collections for most filters, so large bulk writes get slow there.
const BATCH_SIZE_MAX = Number(process.env.BENCH_MONGO_BATCH ?? 100);
const LIVE_SAMPLES = Number(process.env.BENCH_MONGO_SAMPLES ?? 100);
const decider: DeciderConfig = { currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])), idempotencyRetentionMs: 86_400_000 };

async function main(): Promise<number> {
  const url = process.env.MONGODB_URL;
  if (!url) {
    console.log('mongo projection bench: skipped (MONGODB_URL not set; e.g. eval "$(scripts/ferretdb.sh start)")');
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-mongo-'));
  const dbName = `bench_${randomUUID().slice(0, 8)}`;
  const store = new SqliteEventStore({ filename: join(dir, 'events.sqlite'), groupCommitMax: 512, idlePollMs: 50, busyTimeoutMs: 5000, clock: () => new Date() });
  const readModels = await MongoReadModelStore.connect({ url, dbName });
  const projector = new WalletProjector(store, readModels, {
    batchSizeMax: BATCH_SIZE_MAX,
    restartDelayMs: 1000,
    log: (level, message, error) => console.error(`projector ${level}: ${message}`, error ?? ''),
  });
  try {
    const generated = await generateLedger(store, { customers: 100, events: CATCH_UP_EVENTS, businessId: 'biz_bench' });
    console.error(`generated ${generated.events} events; projecting into ${dbName}`);
    const head = (await store.readAll({ after: null, maxCount: Number.MAX_SAFE_INTEGER })).at(-1)?.position ?? 0;
    const started = performance.now();
    await projector.start();
    const progress = setInterval(() => console.error(`  projected up to ${projector.position ?? 0} of ${head}`), 5000);
    const caughtUp = await projector.waitFor(head, CATCH_UP_DEADLINE_MS);
    clearInterval(progress);
    const catchUpSeconds = (performance.now() - started) / 1000;
    const projected = caughtUp ? generated.events : (projector.position ?? 0);
    const eventsPerSecond = projected / catchUpSeconds;
    if (!caughtUp) {
      console.log(`catch-up did not finish within ${CATCH_UP_DEADLINE_MS / 1000} s (projected ${projected} of ${generated.events}); skipping live latency`);
      console.log(`catch-up: ${Math.round(eventsPerSecond)} events/s (partial)`);
      return 0;
    }
    console.error(`caught up in ${catchUpSeconds.toFixed(1)} s; measuring live latency`);
    const latenciesMs = await liveLatencies(store, projector, generated.customers);
    const report = [
      `mongo projection bench (${new Date().toISOString()}, Node ${process.version}, ${url.includes('127.0.0.1') ? 'local server' : 'remote server'})`,
      `catch-up (batches of ${BATCH_SIZE_MAX}): ${projected} events in ${catchUpSeconds.toFixed(1)} s = ${Math.round(eventsPerSecond)} events/s`,
      `append -> visible in read model: p50 ${percentile(latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(latenciesMs, 99).toFixed(1)} ms (${latenciesMs.length} single appends)`,
    ].join('\n');
    console.log(report);
    writeFileSync('bench/results/mongo-projection.md', `\`\`\`\n${report}\n\`\`\`\n`);
    return 0;
  } finally {
    // A stalled server must not keep the bench alive: clean up with a bound.
    const cleanup = (async () => {
      await projector.stop();
      await readModels.db.dropDatabase().catch(() => undefined);
      await readModels.close();
      await store.close();
    })();
    await Promise.race([cleanup, new Promise((resolve) => setTimeout(resolve, 5000))]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One credit at a time to a random customer: time from the append's commit to the projector having applied it. */
async function liveLatencies(store: SqliteEventStore, projector: WalletProjector, customers: readonly string[]): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < LIVE_SAMPLES; i += 1) {
    const customerId = customers[Math.floor(Math.random() * customers.length)];
    const stream = await store.readStream(walletStreamId(customerId), { fromRevision: 0, maxCount: 1_000_000 });
    const state: WalletState = evolveAll(initialWalletState(), stream.map(decodeWalletEvent), decider);
    const command = {
      type: 'RecordLedgerEntry' as const, customerId, businessId: 'biz_bench', entryId: `wle_${randomUUID()}`, direction: 'credit' as const,
      currency: 'USD', amountMinor: 1, reason: null, idempotencyKey: null, now: new Date().toISOString(),
    };
    const events = decide(command, state, decider).map((event, index) => ({ eventId: `${command.entryId}:${index}`, ...encodeWalletEvent(event), metadata: {} }));
    const appended = await store.append(walletStreamId(customerId), state.version - 1, events);
    const committedAt = performance.now();
    await projector.waitFor(appended.lastPosition, 30_000);
    latencies.push(performance.now() - committedAt);
  }
  return latencies;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('mongo projection bench failed:', error);
    process.exit(1);
  },
);
