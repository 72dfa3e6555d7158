import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CURRENCIES, walletAfterEntry, type DeciderConfig, type RecordLedgerEntry, type WalletCommand } from '#domain';
import { SqliteEventStore, type EventStore } from '#event-store';
import { WalletCommandExecutor, loadLedgerConfig } from '#ledger';

/**
 * Cold first command on a customer with a long history, after a restart:
 *
 *   npm run build && node dist/bench/cold-load-bench.js
 *
 * Builds one customer's stream of EVENTS events through the real executor (snapshots written
 * as the API writes them, every SNAPSHOT_EVERY_EVENTS), then, in a fresh process per run (the
 * restart), times the first command on that customer and reports RSS before and after it.
 * Three streams: unkeyed entries, keyed entries (every key inside the retention window, so the
 * state carries all of them), and the unkeyed stream loaded with snapshots switched off, the
 * full fold a snapshot saves. Figures are printed, never asserted; the target is 20 ms.
 * BENCH_QUICK=1 builds a tenth of the stream and runs once.
 */

const QUICK = process.env.BENCH_QUICK === '1';
const EVENTS = QUICK ? 10_000 : 100_000;
const RUNS = QUICK ? 1 : 5;
const IN_FLIGHT_MAX = 2000;
const CUSTOMER = 'cus_cold_bench';
const BUSINESS = 'biz_bench';
const TARGET_MS = 20;

const config = loadLedgerConfig({});
const decider: DeciderConfig = {
  currencies: new Map(DEFAULT_CURRENCIES.map((c) => [c.code, c])),
  idempotencyRetentionMs: config.idempotencyRetentionMs,
};

function openStore(file: string): SqliteEventStore {
  return new SqliteEventStore({
    filename: file,
    groupCommitMax: 256,
    idlePollMs: 200,
    busyTimeoutMs: 5000,
    clock: () => new Date(),
    keyRetentionMs: config.idempotencyRetentionMs,
  });
}

function newExecutor(store: EventStore, snapshots: boolean): WalletCommandExecutor {
  return new WalletCommandExecutor(store, decider, {
    retriesMax: config.commandRetriesMax,
    appendRetriesMax: 3,
    backoffBaseMs: 2,
    backoffMaxMs: 200,
    streamCacheMax: config.streamCacheMax,
    readPageSize: 1000,
    snapshotEveryEvents: snapshots ? config.snapshotEveryEvents : undefined,
    keysCachedMax: config.idempotencyKeysCachedMax,
    clock: () => new Date(),
  });
}

const context = { correlationId: 'bench', actor: 'bench' };

function entry(executor: WalletCommandExecutor, n: number, keyed: boolean) {
  return executor.execute(
    CUSTOMER,
    (now): RecordLedgerEntry => ({
      type: 'RecordLedgerEntry',
      customerId: CUSTOMER,
      businessId: BUSINESS,
      entryId: `wle_bench_${n}`,
      direction: 'credit',
      currency: 'USD',
      amountMinor: 1,
      reason: null,
      idempotencyKey: keyed ? `bench-key-${n}` : null,
      now,
    }),
    (state, command) => walletAfterEntry(command as RecordLedgerEntry, state, decider).balanceMinor,
    context,
  );
}

async function build(file: string, keyed: boolean): Promise<void> {
  global.gc?.();
  const rssBeforeBytes = process.memoryUsage().rss;
  const store = openStore(file);
  const executor = newExecutor(store, true);
  await executor.execute(
    CUSTOMER,
    (now): WalletCommand => ({ type: 'CreateCustomer', customerId: CUSTOMER, businessId: BUSINESS, email: 'b@x.co', name: 'B', phoneNumber: null, metadata: {}, now }),
    () => undefined,
    context,
  );
  const entries = EVENTS - 1 - DEFAULT_CURRENCIES.length;
  const startedMs = performance.now();
  for (let from = 0; from < entries; from += IN_FLIGHT_MAX) {
    const count = Math.min(IN_FLIGHT_MAX, entries - from);
    await Promise.all(Array.from({ length: count }, (_, i) => entry(executor, from + i, keyed)));
  }
  const entriesPerSecond = entries / ((performance.now() - startedMs) / 1000);
  // The last snapshot write starts a turn after its append; give it time to land before closing.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  global.gc?.();
  const rssAfterBytes = process.memoryUsage().rss;
  const snapshot = await store.readSnapshot(`wallet-${CUSTOMER}`);
  const head = (await store.headPosition()) ?? 0;
  await store.close();
  console.log(
    `  built ${head.toLocaleString('en-US')} events (${keyed ? 'keyed' : 'unkeyed'}) through the executor at ${Math.round(entriesPerSecond).toLocaleString('en-US')} entries/s; RSS ${(rssBeforeBytes / MIB).toFixed(0)} → ${(rssAfterBytes / MIB).toFixed(0)} MiB; last snapshot at revision ${snapshot?.revision ?? 'none'}`,
  );
}

/** One restart: open the store, run one command on the customer, report. Runs in its own process. */
async function cold(file: string, snapshots: boolean, keyedRun: boolean): Promise<void> {
  const rssBeforeBytes = process.memoryUsage().rss;
  const store = openStore(file);
  // Off: the same store seen without its snapshots, so the load folds the whole stream.
  const seen: EventStore = snapshots
    ? store
    : {
        append: (...args) => store.append(...args),
        readStream: (...args) => store.readStream(...args),
        readAll: (...args) => store.readAll(...args),
        subscribe: (...args) => store.subscribe(...args),
        close: () => store.close(),
      };
  const executor = newExecutor(seen, snapshots);
  const started = performance.now();
  // Keyed, with a key the stream already holds, made long before: a replay answered through the key index.
  await entry(executor, 0, keyedRun);
  const firstCommandMs = performance.now() - started;
  const rssAfterBytes = process.memoryUsage().rss;
  await store.close();
  process.stdout.write(`${JSON.stringify({ firstCommandMs, rssBeforeBytes, rssAfterBytes })}\n`);
}

interface ColdResult {
  readonly firstCommandMs: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
}

function restartAndMeasure(file: string, snapshots: boolean, keyed: boolean): ColdResult {
  const args = [fileURLToPath(import.meta.url), '--cold', file, snapshots ? 'on' : 'off', keyed ? 'keyed' : 'unkeyed'];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`cold run failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as ColdResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const MIB = 1024 * 1024;

async function main(): Promise<void> {
  if (process.argv[2] === '--cold') {
    await cold(process.argv[3], process.argv[4] === 'on', process.argv[5] === 'keyed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ledger-cold-bench-'));
  try {
    console.log(
      `cold first command: one customer, ${EVENTS.toLocaleString('en-US')} events, snapshot every ${config.snapshotEveryEvents} events, ${config.idempotencyKeysCachedMax} keys cached per customer, ${RUNS} restarts each`,
    );
    const unkeyed = join(dir, 'unkeyed.sqlite');
    const keyed = join(dir, 'keyed.sqlite');
    await build(unkeyed, false);
    await build(keyed, true);
    const cases: Array<[string, string, boolean, boolean]> = [
      ['unkeyed entries, snapshots on', unkeyed, true, false],
      ['keyed entries, snapshots on; the command replays the first key', keyed, true, true],
      ['unkeyed entries, snapshots off (full fold)', unkeyed, false, false],
    ];
    console.log(`| case | first command ms (median, min–max) | RSS before → after, MiB (median) | target |`);
    console.log(`|---|---|---|---|`);
    for (const [label, file, snapshots, keyedRun] of cases) {
      const results = Array.from({ length: RUNS }, () => restartAndMeasure(file, snapshots, keyedRun));
      const ms = results.map((r) => r.firstCommandMs);
      const before = median(results.map((r) => r.rssBeforeBytes)) / MIB;
      const after = median(results.map((r) => r.rssAfterBytes)) / MIB;
      console.log(
        `| ${label} | ${median(ms).toFixed(1)} (${Math.min(...ms).toFixed(1)}–${Math.max(...ms).toFixed(1)}) | ${before.toFixed(0)} → ${after.toFixed(0)} (+${(after - before).toFixed(0)}) | ≤ ${TARGET_MS} ms |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
