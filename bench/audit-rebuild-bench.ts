import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteEventStore } from '#event-store';
import { auditLedger, loadLedgerConfig, openLogHead, openReadModelBackend, rebuildProjection } from '#ledger';
import { generateLedger } from './ledger-generator.js';

/**
 * Audit and rebuild throughput on the embedded backend:
 *
 *   npm run build && node dist/bench/audit-rebuild-bench.js
 *
 * Generates 1,000,000 events over 10,000 customers (the real decider, written straight
 * into the SQLite event store in large group-committed batches), then, each in a fresh
 * child process so its peak RSS is its own: a blue/green rebuild of the wallet read models
 * from the whole log, and a full audit of the log against them. Each is run RUNS times
 * (a rebuild of v1 into v2, then v2 into v3, ...) and the median is reported with the
 * range, since a small shared machine is noisy. Targets are reported, not asserted.
 * BENCH_QUICK=1 runs a tenth of the size, once, and writes no result file.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const QUICK = process.env.BENCH_QUICK === '1';
const SIZE = { events: QUICK ? 100_000 : 1_000_000, customers: QUICK ? 1_000 : 10_000 } as const;
const RUNS = QUICK ? 1 : 3;
const TARGETS = { rebuildEventsPerSecond: 50_000, auditEventsPerSecond: 100_000, rssBytes: 500 * 1024 * 1024 } as const;

interface PhaseResult {
  readonly phase: 'rebuild' | 'audit';
  readonly events: number;
  readonly ms: number;
  readonly eventsPerSecond: number;
  readonly maxRssBytes: number;
  readonly detail: string;
}

async function main(): Promise<number> {
  const phase = argument('--phase');
  if (phase !== undefined) return runPhase(phase, argument('--data-dir')!);

  const dataDir = mkdtempSync(join(tmpdir(), 'ledger-audit-bench-'));
  try {
    console.log(
      `generating ${SIZE.events.toLocaleString('en-US')} events over ${SIZE.customers.toLocaleString('en-US')} customers in ${dataDir}`,
    );
    const store = new SqliteEventStore({
      filename: join(dataDir, 'events.sqlite'),
      groupCommitMax: 20_000,
      idlePollMs: 200,
      busyTimeoutMs: 5000,
      clock: () => new Date(),
    });
    const started = performance.now();
    const generated = await generateLedger(store, { customers: SIZE.customers, events: SIZE.events, businessId: 'biz_bench' });
    await store.close();
    const generateS = (performance.now() - started) / 1000;
    console.log(`generated ${generated.events.toLocaleString('en-US')} events in ${generateS.toFixed(1)} s`);

    const rebuilds: PhaseResult[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      rebuilds.push(await runChild('rebuild', dataDir));
      console.log(describe(rebuilds[run]));
    }
    const audits: PhaseResult[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      audits.push(await runChild('audit', dataDir));
      console.log(describe(audits[run]));
    }
    const rebuild = median(rebuilds);
    const audit = median(audits);

    const report = render(generated.events, generateS, rebuild, audit, rebuilds, audits);
    console.log(`\n${report}`);
    if (!QUICK) {
      const resultsDir = join(ROOT, 'bench', 'results');
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, 'audit-rebuild.md'), report);
      console.log(`saved to bench/results/audit-rebuild.md`);
    }
    return 0;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One measured phase, in this (child) process: prints its result as JSON on the last line. */
async function runPhase(phase: string, dataDir: string): Promise<number> {
  const config = loadLedgerConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, LOG_LEVEL: 'error' });
  const eventStore = new SqliteEventStore({
    filename: join(dataDir, 'events.sqlite'),
    groupCommitMax: 512,
    idlePollMs: 200,
    busyTimeoutMs: 5000,
    clock: () => new Date(),
  });
  const backend = await openReadModelBackend(config);
  const logHead = openLogHead(config, eventStore);
  try {
    let result: PhaseResult;
    if (phase === 'rebuild') {
      const rebuilt = await rebuildProjection({ eventStore, backend, logHead }, { dropDelayMs: 0 });
      result = {
        phase,
        events: rebuilt.events,
        ms: rebuilt.buildMs,
        eventsPerSecond: rebuilt.eventsPerSecond,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        detail: `wallet v${rebuilt.from} -> v${rebuilt.to}`,
      };
    } else if (phase === 'audit') {
      const entry = await backend.registry.ensure('wallet', 1);
      const readModels = await backend.openVersion(entry.activeVersion);
      const report = await auditLedger({ eventStore, readModels, readModelVersion: entry.activeVersion, logHead });
      await readModels.close();
      if (!report.ok)
        throw new Error(`the audit found ${report.totals.discrepancies} discrepancies in a freshly rebuilt read model`);
      result = {
        phase,
        events: report.totals.events,
        ms: report.durationMs,
        eventsPerSecond: report.eventsPerSecond,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        detail: `${report.totals.customers} customers, ${report.totals.entries} entries, clean`,
      };
    } else {
      throw new Error(`unknown phase ${phase}`);
    }
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    await logHead.close();
    await backend.close();
    await eventStore.close();
  }
}

function runChild(phase: 'rebuild' | 'audit', dataDir: string): Promise<PhaseResult> {
  return new Promise((resolvePhase, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--phase', phase, '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${phase} phase exited with ${code}: ${out}`));
      try {
        resolvePhase(JSON.parse(last) as PhaseResult);
      } catch {
        reject(new Error(`${phase} phase printed no result: ${out}`));
      }
    });
  });
}

function describe(r: PhaseResult): string {
  return `${r.phase}: ${r.events.toLocaleString('en-US')} events in ${(r.ms / 1000).toFixed(2)} s = ${r.eventsPerSecond.toLocaleString('en-US')} events/s, peak RSS ${mb(r.maxRssBytes)} (${r.detail})`;
}

/** The run with the median throughput. */
function median(runs: readonly PhaseResult[]): PhaseResult {
  return [...runs].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(runs.length / 2)];
}

function range(runs: readonly PhaseResult[]): string {
  const rates = runs.map((r) => r.eventsPerSecond.toLocaleString('en-US'));
  return runs.length === 1 ? 'one run' : `runs: ${rates.join(', ')} events/s`;
}

function render(
  events: number,
  generateS: number,
  rebuild: PhaseResult,
  audit: PhaseResult,
  rebuilds: readonly PhaseResult[],
  audits: readonly PhaseResult[],
): string {
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const rows = [
    [
      'rebuild (blue/green, whole log)',
      `${rebuild.eventsPerSecond.toLocaleString('en-US')} events/s`,
      `≥ ${TARGETS.rebuildEventsPerSecond.toLocaleString('en-US')}`,
      verdict(rebuild.eventsPerSecond >= TARGETS.rebuildEventsPerSecond),
      mb(rebuild.maxRssBytes),
      verdict(rebuild.maxRssBytes <= TARGETS.rssBytes),
    ],
    [
      'audit (whole log vs read models)',
      `${audit.eventsPerSecond.toLocaleString('en-US')} events/s`,
      `≥ ${TARGETS.auditEventsPerSecond.toLocaleString('en-US')}`,
      verdict(audit.eventsPerSecond >= TARGETS.auditEventsPerSecond),
      mb(audit.maxRssBytes),
      verdict(audit.maxRssBytes <= TARGETS.rssBytes),
    ],
  ];
  return [
    '# Audit and rebuild benchmark',
    '',
    `Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Linux ${release()}, Node ${process.version}.`,
    `Embedded backend (SQLite event store and read models). ${events.toLocaleString('en-US')} events over ${SIZE.customers.toLocaleString('en-US')} customers, generated with the real decider in ${generateS.toFixed(1)} s.`,
    `Each phase runs ${RUNS} time(s), each in a fresh process; the table shows the median run. Peak RSS is that process's maxRSS. Targets are reported, not asserted.`,
    '',
    '| phase | throughput | target | | peak RSS | ≤ 500 MB |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `- rebuild: ${rebuild.events.toLocaleString('en-US')} events in ${(rebuild.ms / 1000).toFixed(2)} s (${rebuild.detail}; time to build and switch, without the wait before dropping the old version); ${range(rebuilds)}`,
    `- audit: ${audit.events.toLocaleString('en-US')} events in ${(audit.ms / 1000).toFixed(2)} s (${audit.detail}); ${range(audits)}`,
    '',
    'Reproduce: `npm run build && node dist/bench/audit-rebuild-bench.js`.',
    '',
  ].join('\n');
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
