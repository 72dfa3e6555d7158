import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ApiClient, checkCustomer, createCustomers, type ClientLedger, type CustomerCheck } from './api-client.js';
import { renderProfile, summarizeProfile } from './cpu-profile.js';
import { killAllChildren, startChildServer, type ChildServer } from './child-server.js';
import { runLoad, type LoadSpec } from './ledger-load.js';
import { CpuWindow, cpuModel, procStatusBytes, waitForQuietMachine, resetPeakRss, RssSampler } from './proc-stats.js';
import {
  cpuMsPerRequest,
  evaluateTargets,
  renderMarkdown,
  renderText,
  type BenchReport,
  type CaseReport,
  type ConsistencyReport,
} from './report.js';

/**
 * `npm run bench`: the built API as a child process on a fresh DATA_DIR, driven by
 * autocannon in this process (many customers, then one hot customer), checked for
 * consistency, then the framework ceiling (ceiling-app.ts) driven the same way.
 * Targets are reported, never asserted: the exit code is non-zero only when the bench
 * itself broke (a server did not start or died, a set-up call failed, consistency failed).
 *
 * BENCH_QUICK=1 shortens everything for trying the bench out; it writes no result files.
 * BENCH_PROFILE=1 also CPU-profiles each server's main thread over each measured run
 * (profile-hook.ts), prints where the time went and keeps the .cpuprofile files (open
 * them in Chrome DevTools); profiling costs some throughput, so no result files either.
 * BENCH_API_NODE_ARGS="..." passes node flags to the API child only, for diagnosis, e.g.
 * "--prof --logfile=/tmp/api.v8.log --no-logfile-per-isolate" (then: node --prof-process /tmp/api.v8.log).
 */

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const API_SCRIPT = join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js');
const CEILING_SCRIPT = join(HERE, 'ceiling-app.js');
const PROFILE_HOOK = join(HERE, 'profile-hook.js');
const RESULTS_DIR = join(ROOT, 'bench', 'results');

const API_KEY = 'sk_bench_key_0001';
const BUSINESS_ID = 'biz_bench';
const QUICK = process.env.BENCH_QUICK === '1';
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const PROFILE = process.env.BENCH_PROFILE === '1';
/** Writes result files only for a plain, full-length run. */
const DIAGNOSTIC = QUICK || PROFILE || API_NODE_ARGS.length > 0;

/** Where a server's CPU profiles go, and how many it has written. */
interface Profiling {
  readonly dir: string;
  written: number;
}

const SETTINGS = {
  customers: QUICK ? 200 : 1000,
  customerCreationConcurrency: 32,
  connections: 64,
  warmupS: QUICK ? 1 : 3,
  manyCustomersS: QUICK ? 3 : 15,
  hotCustomerS: QUICK ? 3 : 10,
  ceilingS: QUICK ? 3 : 15,
  consistencySample: 20,
  startTimeoutMs: 30_000,
  /** Before starting, wait this long at most for the machine to be idle... */
  quietWaitMs: QUICK ? 0 : 20_000,
  /** ...meaning fewer busy cores than this over one second. */
  quietThresholdCores: 0.3,
  /** Before each case, wait this long at most for the other processes to calm down. */
  caseQuietWaitMs: QUICK ? 0 : 10_000,
  /** The whole bench is stopped (exit 1) past this. */
  watchdogMs: 4 * 60_000,
} as const;

async function main(): Promise<number> {
  for (const script of [API_SCRIPT, CEILING_SCRIPT]) {
    if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first (npm run bench does)`);
  }
  log(
    `waiting up to ${SETTINGS.quietWaitMs / 1000} s for the machine to be quiet (< ${SETTINGS.quietThresholdCores} cores busy)`,
  );
  const quiet = await waitForQuietMachine(SETTINGS.quietWaitMs, SETTINGS.quietThresholdCores);
  const backgroundBusyCores = quiet.busyCores;
  log(`background load: ${backgroundBusyCores} of ${cpus().length} cores busy before start (waited ${quiet.waitedS} s)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'ledger-bench-'));
  // One key drives all the load: lift its rate limit so the bench measures the ledger, not the limiter.
  const env = {
    NODE_ENV: 'production', API_KEYS: `${API_KEY}:${BUSINESS_ID}`, LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000',
  };
  const profileRoot = PROFILE ? mkdtempSync(join(tmpdir(), 'ledger-bench-profiles-')) : null;
  const profiling = (name: string): Profiling | null => {
    if (profileRoot === null) return null;
    const dir = join(profileRoot, name);
    mkdirSync(dir, { recursive: true });
    return { dir, written: 0 };
  };
  const apiProfiling = profiling('api');
  const ceilingProfiling = profiling('ceiling');
  const profileArgs = (p: Profiling | null): Record<string, string> => (p === null ? {} : { BENCH_PROFILE_DIR: p.dir });
  const hookArgs = PROFILE ? ['--import', pathToFileURL(PROFILE_HOOK).href] : [];
  let api: ChildServer | null = null;
  let ceiling: ChildServer | null = null;
  try {
    log(`starting the API (DATA_DIR=${dataDir})`);
    api = await startChildServer({
      name: 'API',
      script: API_SCRIPT,
      env: { ...env, DATA_DIR: dataDir, ...profileArgs(apiProfiling) },
      nodeArgs: [...hookArgs, ...API_NODE_ARGS],
      healthPath: '/health',
      startTimeoutMs: SETTINGS.startTimeoutMs,
    });
    const client = new ApiClient(api.baseUrl, API_KEY);

    log(`creating ${SETTINGS.customers} customers, ${SETTINGS.customerCreationConcurrency} at a time`);
    const created = await createCustomers(client, SETTINGS.customers, SETTINGS.customerCreationConcurrency, 'many');
    const customerIds = created.ids;
    const ledgers = new Map<string, ClientLedger>();

    const manyCustomers = await runCase(api, apiProfiling, 'many customers', SETTINGS.manyCustomersS, {
      title: 'many customers',
      baseUrl: api.baseUrl,
      apiKey: API_KEY,
      connections: SETTINGS.connections,
      durationS: SETTINGS.manyCustomersS,
      customerIds,
      keyPrefix: 'bench-many',
      ledgers,
    });

    const hot = await createCustomers(client, 1, 1, 'hot');
    const hotCustomer = await runCase(api, apiProfiling, 'hot customer', SETTINGS.hotCustomerS, {
      title: 'hot customer',
      baseUrl: api.baseUrl,
      apiKey: API_KEY,
      connections: SETTINGS.connections,
      durationS: SETTINGS.hotCustomerS,
      customerIds: hot.ids,
      keyPrefix: 'bench-hot',
      ledgers,
    });

    const sample = [...pickRandom(customerIds, SETTINGS.consistencySample), hot.ids[0]];
    log(`checking consistency of ${sample.length} customers (${SETTINGS.consistencySample} random + the hot one)`);
    const consistency = await checkConsistency(client, sample, ledgers);
    const serverOutput = api.output();
    await api.stop();
    api = null;

    log('starting the framework ceiling app');
    ceiling = await startChildServer({
      name: 'ceiling app',
      script: CEILING_SCRIPT,
      env: { ...env, ...profileArgs(ceilingProfiling) },
      nodeArgs: hookArgs,
      healthPath: '/health',
      startTimeoutMs: SETTINGS.startTimeoutMs,
    });
    const ceilingCase = await runCase(ceiling, ceilingProfiling, 'framework ceiling', SETTINGS.ceilingS, {
      title: 'framework ceiling',
      baseUrl: ceiling.baseUrl,
      apiKey: API_KEY,
      connections: SETTINGS.connections,
      durationS: SETTINGS.ceilingS,
      customerIds,
      keyPrefix: 'bench-ceiling',
      ledgers: new Map(),
    });
    await ceiling.stop();
    ceiling = null;

    const ratio = ceilingCase.load.okPerS > 0 ? round(manyCustomers.load.okPerS / ceilingCase.load.okPerS, 3) : 0;
    const oursMs = cpuMsPerRequest(manyCustomers);
    const ceilingMs = cpuMsPerRequest(ceilingCase);
    const cpuNormalizedRatio = oursMs !== null && ceilingMs !== null && oursMs > 0 ? round(ceilingMs / oursMs, 3) : null;
    const serverLines = serverOutput.trim() === '' ? 0 : serverOutput.trimEnd().split('\n').length;
    const report: BenchReport = {
      date: new Date().toISOString(),
      node: process.version,
      cpuModel: cpuModel(),
      cores: cpus().length,
      kernel: release(),
      backgroundBusyCores,
      settings: {
        ...SETTINGS,
        quick: QUICK,
        apiNodeArgs: API_NODE_ARGS,
        loadGenerator: 'autocannon 8 (in the bench process)',
        requestTimeoutS: 10,
      },
      setup: {
        customers: created.ids.length,
        seconds: round(created.seconds, 2),
        perS: Math.round(created.ids.length / created.seconds),
      },
      cases: { manyCustomers, hotCustomer, ceiling: ceilingCase },
      ratio,
      cpuNormalizedRatio,
      targets: evaluateTargets(manyCustomers, hotCustomer, ratio),
      consistency,
      serverLog: { lines: serverLines, tail: serverOutput },
    };

    console.log(`\n${renderText(report)}\n`);
    for (const c of [manyCustomers, hotCustomer, ceilingCase])
      if (c.profile) console.log(`${renderProfile(c.name, c.profile)}\n`);
    if (DIAGNOSTIC) {
      log('diagnostic run (BENCH_QUICK, BENCH_PROFILE or BENCH_API_NODE_ARGS): result files not written');
      if (profileRoot !== null) log(`CPU profiles kept in ${profileRoot}`);
    } else {
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(RESULTS_DIR, 'latest.md'), renderMarkdown(report));
      log(`wrote ${join('bench', 'results', 'latest.json')} and ${join('bench', 'results', 'latest.md')}`);
    }
    return consistency.ok ? 0 : 1;
  } finally {
    await Promise.allSettled([api?.stop(), ceiling?.stop()]);
    killAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Warm-up (not reported), then the measured run, with the server's memory and CPU watched. */
async function runCase(
  server: ChildServer,
  profiling: Profiling | null,
  name: string,
  durationS: number,
  spec: LoadSpec,
): Promise<CaseReport> {
  // Other people's builds and tests come in bursts; starting a case in a lull makes the figures less noisy.
  const quiet = await waitForQuietMachine(SETTINGS.caseQuietWaitMs, SETTINGS.quietThresholdCores);
  const scopedPeak = resetPeakRss(server.pid);
  const sampler = new RssSampler(server.pid, 250).start();
  log(`${name}: ${SETTINGS.warmupS} s warm-up (machine ${quiet.busyCores} cores busy after waiting ${quiet.waitedS} s)`);
  await runLoad({ ...spec, title: `${spec.title} (warm-up)`, durationS: SETTINGS.warmupS });
  assertAlive(server);
  log(`${name}: ${durationS} s, ${spec.connections} connections, ${spec.customerIds.length} customer(s)`);
  if (profiling !== null) await toggleProfiler(server);
  const cpu = new CpuWindow(server.pid);
  const load = await runLoad({ ...spec, durationS });
  const cpuSplit = cpu.finish();
  const sampledMax = sampler.stop();
  assertAlive(server);
  const profile = profiling === null ? undefined : await collectProfile(server, profiling);
  const peak = procStatusBytes(server.pid, 'VmHWM');
  log(
    `${name}: ${load.okPerS} 2xx/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, non-2xx ${load.non2xx}, errors ${load.errors}`,
  );
  return {
    name,
    customers: spec.customerIds.length,
    warmupS: SETTINGS.warmupS,
    load,
    errorsTotal: load.non2xx + load.errors,
    peakRssBytes: peak,
    peakRssScope: scopedPeak ? 'case' : 'process lifetime',
    sampledMaxRssBytes: sampledMax,
    rssSamples: sampler.samples,
    cpu: cpuSplit,
    quietBefore: quiet,
    ...(profile === undefined ? {} : { profile }),
  };
}

async function toggleProfiler(server: ChildServer): Promise<void> {
  process.kill(server.pid, 'SIGWINCH');
  // The profiler starts asynchronously in the child; give it a moment.
  await new Promise((resolveSleep) => setTimeout(resolveSleep, 200));
}

async function collectProfile(server: ChildServer, profiling: Profiling) {
  await toggleProfiler(server);
  profiling.written += 1;
  const file = join(profiling.dir, `${profiling.written}.cpuprofile`);
  const deadline = Date.now() + 15_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${server.name} wrote no CPU profile to ${file}. Output:\n${server.output()}`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 100));
  }
  return summarizeProfile(file);
}

async function checkConsistency(
  client: ApiClient,
  customerIds: string[],
  ledgers: Map<string, ClientLedger>,
): Promise<ConsistencyReport> {
  // Let requests still in flight when the load stopped land before reading.
  await new Promise((resolveSleep) => setTimeout(resolveSleep, 500));
  const started = performance.now();
  const checks: CustomerCheck[] = [];
  for (const customerId of customerIds) checks.push(await checkCustomer(client, customerId, ledgers.get(customerId)));
  const mismatches = checks.filter((c) => c.problems.length > 0).map((c) => ({ customerId: c.customerId, problems: c.problems }));
  return {
    ok: mismatches.length === 0,
    customersChecked: checks.length,
    entriesRead: checks.reduce((sum, c) => sum + c.entryCount, 0),
    seconds: round((performance.now() - started) / 1000, 2),
    mismatches,
    customers: checks,
  };
}

function assertAlive(server: ChildServer): void {
  if (procStatusBytes(server.pid, 'VmRSS') === null) {
    throw new Error(
      `${server.name} (pid ${server.pid}) died during the load (${server.exitInfo() ?? 'gone'}). Output:\n${server.output()}`,
    );
  }
}

function pickRandom<T>(items: readonly T[], count: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${SETTINGS.watchdogMs / 1000} s; giving up`);
  killAllChildren();
  process.exit(1);
}, SETTINGS.watchdogMs);

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  (error: unknown) => {
    clearTimeout(watchdog);
    console.error('bench failed:', error instanceof Error ? (error.stack ?? error.message) : error);
    killAllChildren();
    process.exit(1);
  },
);
