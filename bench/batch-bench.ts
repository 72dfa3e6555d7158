import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient, createCustomers } from './api-client.js';
import { killAllChildren, startChildServer, type ChildServer } from './child-server.js';
import { cpuModel, procStatusBytes } from './proc-stats.js';

/**
 * The batch part of `npm run bench`: POST /wallets/ledger-entries/batch at batch sizes 1, 10,
 * 100 and 1,000 over 1,000 customers with 8 connections (workers, one request in flight
 * each); the raw SQLite batched-insert rate on the same disk in the same run; and how long
 * after the load the read models have caught up with the log. Every result is counted, and
 * a sample of balances is checked against what the answers said. Targets are reported,
 * never asserted: the exit code is non-zero only when the bench itself broke.
 *
 * BENCH_QUICK=1 shortens everything and writes no result files; so does BENCH_API_NODE_ARGS.
 */

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const API_SCRIPT = join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js');
const CLI_SCRIPT = join(ROOT, 'dist', 'apps', 'cli', 'src', 'main.js');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const API_KEY = 'sk_bench_batch_0001';
const API_KEYS = `${API_KEY}:biz_batch_bench`;
const QUICK = process.env.BENCH_QUICK === '1';
/** Node flags for the API child only, for diagnosis (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const SETTINGS = {
  customers: 1000,
  customerCreationConcurrency: 32,
  connections: 8,
  /** BENCH_BATCH_SIZES="1000" runs only some sizes, for diagnosis. */
  batchSizes: (process.env.BENCH_BATCH_SIZES ?? '1,10,100,1000').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= 1000),
  warmupS: QUICK ? 0.5 : 2,
  runS: QUICK ? 2 : 8,
  rawInsertS: QUICK ? 1 : 3,
  rawRowsPerTransaction: 100,
  consistencySample: 50,
  /** `ledger import` of a generated NDJSON file (grouped by customer, 100 lines each), with the API running. */
  importLines: Number(process.env.BENCH_IMPORT_LINES ?? (QUICK ? 20_000 : 1_000_000)),
  importInFlight: 4096,
  catchUpTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  watchdogMs: 15 * 60_000,
} as const;

const TARGETS = { entriesPerSAtBatch1000: 50_000, rawFraction: 0.2, catchUpMs: 1000 } as const;

interface SizeResult {
  readonly batchSize: number;
  readonly seconds: number;
  readonly requests: number;
  readonly entriesApplied: number;
  readonly entriesPerS: number;
  readonly entriesRefused: number;
  readonly requestErrors: number;
  readonly latencyMs: { p50: number; p99: number; max: number };
  /** From the last answer of the run to the read models' checkpoint reaching the log's last position. */
  readonly catchUpMs: number | null;
}

const applied = new Map<string, number>();
let keySequence = 0;

async function main(): Promise<number> {
  if (!existsSync(API_SCRIPT) || !existsSync(CLI_SCRIPT)) throw new Error(`${API_SCRIPT} or the CLI is missing: run "npm run build" first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'ledger-batch-bench-'));
  let api: ChildServer | null = null;
  try {
    const raw = rawInsertRate(dataDir);
    log(`raw SQLite (WAL, synchronous=FULL, ${SETTINGS.rawRowsPerTransaction} rows a transaction): ${raw.rowsPerS} rows/s`);

    api = await startChildServer({
      name: 'API',
      script: API_SCRIPT,
      env: {
        NODE_ENV: 'production',
        API_KEYS,
        LOG_LEVEL: 'warn',
        DATA_DIR: dataDir,
        // One key drives all the load: the bench measures the ledger, not the limiter.
        RATE_LIMIT_PER_SECOND: '1000000',
        RATE_LIMIT_BURST: '1000000',
      },
      nodeArgs: API_NODE_ARGS,
      healthPath: '/health',
      startTimeoutMs: 30_000,
    });
    const client = new ApiClient(api.baseUrl, API_KEY);
    log(`creating ${SETTINGS.customers} customers`);
    const { ids } = await createCustomers(client, SETTINGS.customers, SETTINGS.customerCreationConcurrency, 'batch');

    const sizes: SizeResult[] = [];
    for (const batchSize of SETTINGS.batchSizes) {
      await runBatches(api.baseUrl, ids, batchSize, SETTINGS.warmupS);
      const result = await runBatches(api.baseUrl, ids, batchSize, SETTINGS.runS);
      const catchUpMs = await catchUp(api.baseUrl, dataDir, result.endedAtMs);
      const size: SizeResult = { ...result.report, catchUpMs };
      sizes.push(size);
      log(
        `batch ${batchSize}: ${size.entriesPerS} entries/s (${size.requests} requests, ${size.entriesApplied} applied, ${size.entriesRefused} refused, ` +
          `${size.requestErrors} request errors; p50 ${size.latencyMs.p50} ms, p99 ${size.latencyMs.p99} ms); read models caught up ${catchUpMs ?? 'never'} ms after the run`,
      );
    }
    const peakRssBytes = procStatusBytes(api.pid, 'VmHWM');
    const problems = await checkBalances(client, ids);
    const imported = SETTINGS.importLines > 0 ? await runImport(dataDir) : null;
    if (imported !== null) {
      log(`import of ${imported.lines} lines: ${imported.linesPerS} lines/s, peak RSS ${imported.peakRssMiB} MiB, exit ${imported.exitCode}`);
      if (imported.exitCode !== 0) problems.push(`ledger import exited ${imported.exitCode}: ${imported.output.slice(-500)}`);
    }
    const importOk = imported !== null && imported.exitCode === 0;
    await api.stop();
    api = null;

    const at1000 = sizes.find((s) => s.batchSize === 1000);
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpuModel: cpuModel(),
      cores: cpus().length,
      settings: { ...SETTINGS, quick: QUICK },
      raw,
      sizes,
      apiPeakRssMiB: peakRssBytes === null ? null : Math.round(peakRssBytes / 1024 / 1024),
      import: !importOk || imported === null ? null : { lines: imported.lines, seconds: imported.seconds, linesPerS: imported.linesPerS, peakRssMiB: imported.peakRssMiB },
      targets: at1000 === undefined ? [] : [
        { name: `≥ ${TARGETS.entriesPerSAtBatch1000} durable entries/s at batch 1,000`, value: at1000.entriesPerS, met: at1000.entriesPerS >= TARGETS.entriesPerSAtBatch1000 },
        { name: `≥ ${TARGETS.rawFraction} of the raw insert rate at batch 1,000`, value: round(at1000.entriesPerS / raw.rowsPerS, 3), met: at1000.entriesPerS >= TARGETS.rawFraction * raw.rowsPerS },
        { name: `read models caught up within ${TARGETS.catchUpMs} ms of the run's end`, value: at1000.catchUpMs, met: at1000.catchUpMs !== null && at1000.catchUpMs <= TARGETS.catchUpMs },
      ],
      consistencyProblems: problems,
    };
    const markdown = renderMarkdown(report);
    console.log(`\n${markdown}`);
    if (!QUICK && API_NODE_ARGS.length === 0 && process.env.BENCH_BATCH_SIZES === undefined) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, 'batch.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(RESULTS_DIR, 'batch.md'), markdown);
      log(`wrote bench/results/batch.json and batch.md`);
    }
    return problems.length === 0 && sizes.every((s) => s.requestErrors === 0) ? 0 : 1;
  } finally {
    if (api !== null) await api.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * What the disk and SQLite allow with no ledger around them: rows shaped like our events
 * (same table, same unique index, payloads of similar size), 100 to a transaction.
 */
function rawInsertRate(dir: string): { rowsPerS: number; rows: number; seconds: number } {
  const file = join(dir, 'raw-insert.sqlite');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, revision INTEGER NOT NULL, event_id TEXT NOT NULL,
      type TEXT NOT NULL, schema_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at TEXT NOT NULL);
      CREATE UNIQUE INDEX events_stream_revision ON events (stream_id, revision);`);
    const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, schema_version, data, metadata, recorded_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)');
    const revisions = new Array<number>(SETTINGS.customers).fill(0);
    const data = JSON.stringify({ customerId: 'cus_0123456789abcdef01234567', businessId: 'biz_batch_bench', entryId: 'wle_0123456789abcdef01234567', currency: 'USD', amountMinor: 42, balanceAfterMinor: 4242, reason: null, idempotencyKey: 'bench-batch-0000000', occurredAt: new Date().toISOString() });
    const metadata = JSON.stringify({ correlationId: '8b1f0e7c-2d4a-4f4e-9a53-4c3f3e0b9a11', causationId: '5d3c1b2a-0f9e-4d8c-b7a6-958473625140', actor: 'key_0123abcd' });
    const transaction = db.transaction((first: number) => {
      for (let i = 0; i < SETTINGS.rawRowsPerTransaction; i += 1) {
        const customer = (first + i) % SETTINGS.customers;
        insert.run(`wallet-cus_${customer}`, revisions[customer]++, `${first + i}`, 'WalletCredited', data, metadata, new Date().toISOString());
      }
    });
    const started = performance.now();
    let rows = 0;
    while (performance.now() - started < SETTINGS.rawInsertS * 1000) {
      transaction.immediate(rows);
      rows += SETTINGS.rawRowsPerTransaction;
    }
    const seconds = (performance.now() - started) / 1000;
    return { rowsPerS: Math.round(rows / seconds), rows, seconds: round(seconds, 2) };
  } finally {
    db.close();
  }
}

/**
 * Generates an NDJSON export (per customer: the customer, an opening balance, 98 history
 * entries) and imports it with the built CLI while the API runs, sampling the CLI's peak RSS.
 */
async function runImport(dataDir: string) {
  const file = join(dataDir, 'import.ndjson');
  const out = createWriteStream(file);
  const perCustomer = 100;
  for (let c = 0; c * perCustomer < SETTINGS.importLines; c += 1) {
    const lines = [
      JSON.stringify({ type: 'customer', ref: `imp-${c}`, email: `imp${c}@bench.test`, name: `Import ${c}` }),
      JSON.stringify({ type: 'opening_balance', customer: `imp-${c}`, currency: 'USD', amount: 100_000 }),
    ];
    for (let i = 2; i < perCustomer; i += 1) {
      lines.push(JSON.stringify({ type: 'entry', customer: `imp-${c}`, entry_type: i % 4 === 0 ? 'debit' : 'credit', currency: 'USD', amount: 1 + (i % 50), occurred_at: '2024-01-01T00:00:00Z' }));
    }
    if (!out.write(`${lines.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  const lines = Math.ceil(SETTINGS.importLines / perCustomer) * perCustomer;
  log(`importing ${lines} lines with ledger import (--in-flight ${SETTINGS.importInFlight})`);
  const started = performance.now();
  const child = spawn(process.execPath, [CLI_SCRIPT, 'import', file, '--business', 'biz_batch_bench', '--in-flight', String(SETTINGS.importInFlight)], {
    // The API's configuration: the CLI reads the same variables with the same rules.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', LOG_LEVEL: 'warn', DATA_DIR: dataDir, API_KEYS: API_KEYS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let peakRssBytes = 0;
  const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, procStatusBytes(child.pid ?? -1, 'VmHWM') ?? 0)), 250);
  const exitCode = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  return { lines, seconds: round(seconds, 1), linesPerS: Math.round(lines / seconds), peakRssMiB: Math.round(peakRssBytes / 1024 / 1024), exitCode, output };
}

/** `connections` workers, each sending one batch at a time for `seconds`; every entry a fresh key. */
async function runBatches(baseUrl: string, ids: readonly string[], batchSize: number, seconds: number) {
  const latencies: number[] = [];
  let requests = 0;
  let entriesApplied = 0;
  let entriesRefused = 0;
  let requestErrors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const entries = Array.from({ length: batchSize }, () => {
        keySequence += 1;
        return { customerId: ids[Math.floor(Math.random() * ids.length)], amount: 1 + Math.floor(Math.random() * 100), key: `bench-batch-${keySequence}` };
      });
      const body = `{"entries":[${entries
        .map((e) => `{"customer_id":"${e.customerId}","amount":${e.amount},"currency":"USD","entry_type":"credit","idempotency_key":"${e.key}"}`)
        .join(',')}]}`;
      const sentAt = performance.now();
      try {
        const response = await fetch(`${baseUrl}/wallets/ledger-entries/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(SETTINGS.requestTimeoutMs),
        });
        const answer = (await response.json()) as { results?: Array<{ status: number }> };
        latencies.push(performance.now() - sentAt);
        requests += 1;
        if (response.status !== 200 || answer.results?.length !== batchSize) {
          requestErrors += 1;
          continue;
        }
        answer.results.forEach((result, i) => {
          if (result.status !== 200) {
            entriesRefused += 1;
            return;
          }
          entriesApplied += 1;
          applied.set(entries[i].customerId, (applied.get(entries[i].customerId) ?? 0) + entries[i].amount);
        });
      } catch {
        requestErrors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: SETTINGS.connections }, () => worker()));
  const endedAtMs = performance.now();
  const elapsedS = (endedAtMs - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => (latencies.length === 0 ? 0 : round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))], 1));
  const report = {
    batchSize,
    seconds: round(elapsedS, 2),
    requests,
    entriesApplied,
    entriesPerS: Math.round(entriesApplied / elapsedS),
    entriesRefused,
    requestErrors,
    latencyMs: { p50: pick(0.5), p99: pick(0.99), max: pick(1) },
  };
  return { report, endedAtMs };
}

/** Milliseconds from `endedAtMs` until GET /health reports the read models at the log's last position. */
async function catchUp(baseUrl: string, dataDir: string, endedAtMs: number): Promise<number | null> {
  const events = new Database(join(dataDir, 'events.sqlite'), { readonly: true, fileMustExist: true });
  let last: number;
  try {
    last = (events.prepare('SELECT MAX(position) AS last FROM events').get() as { last: number }).last;
  } finally {
    events.close();
  }
  while (performance.now() - endedAtMs < SETTINGS.catchUpTimeoutMs) {
    const health = (await (await fetch(`${baseUrl}/health`)).json()) as { projection_checkpoint: number | null };
    if (health.projection_checkpoint !== null && health.projection_checkpoint >= last) return Math.round(performance.now() - endedAtMs);
    await new Promise((r) => setTimeout(r, 5));
  }
  return null;
}

/** A sample of customers: the balance must be exactly the sum of the credits answered 200. */
async function checkBalances(client: ApiClient, ids: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const id of ids.slice(0, SETTINGS.consistencySample)) {
    const wallets = await client.json<{ items: Array<{ currency: string; balance: number }> }>('GET', `/customers/${id}/wallets`);
    const balance = wallets.items.find((w) => w.currency === 'USD')?.balance;
    if (balance !== (applied.get(id) ?? 0)) problems.push(`${id}: balance ${balance}, but the answers acknowledged ${applied.get(id) ?? 0}`);
  }
  log(`checked ${Math.min(SETTINGS.consistencySample, ids.length)} balances against the acknowledged entries: ${problems.length} problem(s)`);
  return problems;
}

function renderMarkdown(r: {
  date: string; node: string; cpuModel: string; cores: number; raw: { rowsPerS: number };
  sizes: SizeResult[]; apiPeakRssMiB: number | null; import: { lines: number; linesPerS: number; peakRssMiB: number } | null; targets: Array<{ name: string; value: number | null; met: boolean }>; consistencyProblems: string[];
}): string {
  const lines = [
    '# Batch bench',
    '',
    `${r.date}, Node ${r.node}, ${r.cpuModel}, ${r.cores} cores. POST /wallets/ledger-entries/batch, ${SETTINGS.customers} customers, ${SETTINGS.connections} connections, ${SETTINGS.runS} s a size, credits with fresh keys. The load generator runs on the same cores.`,
    '',
    '| batch size | entries/s | requests | refused | request errors | p50 ms | p99 ms | read models caught up after the run |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.sizes.map((s) => `| ${s.batchSize} | ${s.entriesPerS} | ${s.requests} | ${s.entriesRefused} | ${s.requestErrors} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.catchUpMs === null ? 'not within 30 s' : `${s.catchUpMs} ms`} |`),
    '',
    `Raw SQLite batched inserts (WAL, synchronous=FULL, ${SETTINGS.rawRowsPerTransaction} rows a transaction, same disk, same run): **${r.raw.rowsPerS} rows/s**.`,
    r.import === null ? 'Import: not run.' : `\`ledger import\` of ${r.import.lines} NDJSON lines (grouped by customer, API running): **${r.import.linesPerS} lines/s**, peak RSS ${r.import.peakRssMiB} MiB.`,
    `API peak RSS: ${r.apiPeakRssMiB ?? '?'} MiB. Balances checked against acknowledged entries: ${r.consistencyProblems.length === 0 ? 'all match' : r.consistencyProblems.join('; ')}.`,
    '',
    '| target | measured | met |',
    '|---|---:|:---:|',
    ...r.targets.map((t) => `| ${t.name} | ${t.value ?? '—'} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ];
  return lines.join('\n');
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function log(message: string): void {
  console.log(`[batch-bench] ${message}`);
}

const watchdog = setTimeout(() => {
  console.error(`batch bench: watchdog after ${SETTINGS.watchdogMs} ms; stopping`);
  killAllChildren();
  process.exit(1);
}, SETTINGS.watchdogMs);
watchdog.unref();

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('batch bench failed:', error instanceof Error ? error.stack : error);
    killAllChildren();
    process.exit(1);
  },
);
