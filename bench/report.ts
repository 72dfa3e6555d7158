import type { CustomerCheck } from './api-client.js';
import type { LoadResult } from './ledger-load.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { CpuSplit } from './proc-stats.js';

export interface CaseReport {
  readonly name: string;
  readonly customers: number;
  readonly warmupS: number;
  readonly load: LoadResult;
  /** non-2xx + connection errors (autocannon counts timeouts among the errors). */
  readonly errorsTotal: number;
  /** VmHWM after the run; reset to the current RSS before the warm-up when the kernel allows. */
  readonly peakRssBytes: number | null;
  readonly peakRssScope: 'case' | 'process lifetime';
  /** Max of VmRSS sampled every 250 ms over warm-up and run. */
  readonly sampledMaxRssBytes: number;
  readonly rssSamples: number;
  /** Over the measured run only. */
  readonly cpu: CpuSplit;
  /** Busy cores of the machine just before the warm-up, and how long the bench waited for a lull. */
  readonly quietBefore: { readonly busyCores: number; readonly waitedS: number };
  /** Only with BENCH_PROFILE=1. */
  readonly profile?: ProfileSummary;
}

export interface Target {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface ConsistencyReport {
  readonly ok: boolean;
  readonly customersChecked: number;
  readonly entriesRead: number;
  readonly seconds: number;
  readonly mismatches: ReadonlyArray<{ customerId: string; problems: string[] }>;
  readonly customers: readonly CustomerCheck[];
}

export interface BenchReport {
  readonly date: string;
  readonly node: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly kernel: string;
  /** Busy cores of the machine over 1 s just before the bench started: other people's work. */
  readonly backgroundBusyCores: number;
  readonly settings: Record<string, unknown>;
  readonly setup: { readonly customers: number; readonly seconds: number; readonly perS: number };
  readonly cases: { readonly manyCustomers: CaseReport; readonly hotCustomer: CaseReport; readonly ceiling: CaseReport };
  /** many-customers entries/s divided by the ceiling's 2xx/s. */
  readonly ratio: number;
  /**
   * The same ratio per server CPU-second (ceiling's CPU ms per request over ours): less
   * sensitive to other processes taking cores, informational only.
   */
  readonly cpuNormalizedRatio: number | null;
  readonly targets: readonly Target[];
  readonly consistency: ConsistencyReport;
  readonly serverLog: { readonly lines: number; readonly tail: string };
}

/** Server CPU milliseconds per 2xx answer over the measured run. */
export function cpuMsPerRequest(c: CaseReport): number | null {
  if (c.cpu.serverCores === null || c.load.okPerS <= 0) return null;
  return Math.round((100_000 * c.cpu.serverCores) / c.load.okPerS) / 100;
}

export function evaluateTargets(many: CaseReport, hot: CaseReport, ratio: number): Target[] {
  return [
    {
      target: '>= 5,000 entries/s across customers',
      measured: `${int(many.load.okPerS)}/s`,
      met: many.load.okPerS >= 5000,
    },
    { target: 'ratio >= 0.5 of the framework ceiling', measured: ratio.toFixed(3), met: ratio >= 0.5 },
    {
      target: 'hot customer >= 1,500 entries/s with 0 errors',
      measured: `${int(hot.load.okPerS)}/s, ${int(hot.errorsTotal)} errors`,
      met: hot.load.okPerS >= 1500 && hot.errorsTotal === 0,
    },
    { target: 'p99 <= 50 ms (many customers)', measured: `${many.load.latencyMs.p99} ms`, met: many.load.latencyMs.p99 <= 50 },
    { target: 'p99 <= 50 ms (hot customer)', measured: `${hot.load.latencyMs.p99} ms`, met: hot.load.latencyMs.p99 <= 50 },
  ];
}

const CASE_HEADERS = [
  'case',
  'conns',
  'secs',
  'entries/s',
  'p50 ms',
  'p99 ms',
  'max ms',
  'errors',
  'non2xx/conn/timeout',
  'peak RSS',
  'max VmRSS',
  'srv CPU ms/req',
  'CPU srv/gen/other',
  'loop run/wait/sleep',
];

function caseRow(c: CaseReport, unit: string): string[] {
  const l = c.load;
  return [
    c.name,
    String(l.connections),
    l.durationS.toFixed(1),
    `${int(l.okPerS)}${unit}`,
    String(l.latencyMs.p50),
    String(l.latencyMs.p99),
    String(l.latencyMs.max),
    int(c.errorsTotal),
    `${int(l.non2xx)}/${int(l.errors - l.timeouts)}/${int(l.timeouts)}`,
    c.peakRssBytes === null ? 'n/a' : mib(c.peakRssBytes),
    mib(c.sampledMaxRssBytes),
    cpuMsPerRequest(c)?.toFixed(2) ?? 'n/a',
    `${c.cpu.serverCores ?? '?'}/${c.cpu.loadGeneratorCores}/${c.cpu.otherCores}`,
    c.cpu.serverMainThread === null
      ? 'n/a'
      : `${pct(c.cpu.serverMainThread.onCpu)}/${pct(c.cpu.serverMainThread.waitingForCpu)}/${pct(c.cpu.serverMainThread.sleeping)}`,
  ];
}

function caseRows(r: BenchReport): string[][] {
  return [caseRow(r.cases.manyCustomers, ''), caseRow(r.cases.hotCustomer, ''), caseRow(r.cases.ceiling, ' req/s')];
}

export function renderText(r: BenchReport): string {
  const out: string[] = [];
  out.push(`Wallet ledger bench, ${r.date}`);
  out.push(
    `Node ${r.node}, ${r.cpuModel}, ${r.cores} cores, Linux ${r.kernel}; background load before start: ${r.backgroundBusyCores} cores busy`,
  );
  out.push(`setup: ${int(r.setup.customers)} customers created in ${r.setup.seconds.toFixed(2)} s (${int(r.setup.perS)}/s)`);
  out.push('');
  out.push(table(CASE_HEADERS, caseRows(r)));
  out.push('peak RSS = VmHWM of the server over warm-up + run (max VmRSS: sampled every 250 ms)');
  out.push('srv CPU ms/req = server CPU time per 2xx answer over the measured run');
  out.push(
    'CPU = cores used over the measured run by the server / the load generator (autocannon, this process) / everything else',
  );
  out.push(
    "loop = the server's event-loop thread: on a core / runnable but waiting for a core / sleeping (idle, or blocked in fsync)",
  );
  const noisy = noiseWarning(r);
  if (noisy !== null) out.push(`WARNING: ${noisy}`);
  out.push('');
  out.push(`throughput ratio (many customers / framework ceiling): ${r.ratio.toFixed(3)}`);
  out.push(`per server CPU-second (ceiling CPU ms/req / ours, informational): ${r.cpuNormalizedRatio?.toFixed(3) ?? 'n/a'}`);
  out.push('');
  out.push(
    table(
      ['target', 'measured', 'status'],
      r.targets.map((t) => [t.target, t.measured, t.met ? 'met' : 'NOT MET']),
    ),
  );
  out.push('');
  out.push(consistencyLine(r.consistency));
  for (const m of r.consistency.mismatches) out.push(`  ${m.customerId}: ${m.problems.join('; ')}`);
  if (r.serverLog.lines > 0) {
    out.push('');
    out.push(`server log (LOG_LEVEL=warn): ${r.serverLog.lines} lines, last ones:`);
    out.push(indent(lastLines(r.serverLog.tail, 15)));
  }
  return out.join('\n');
}

export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push('# Wallet ledger bench');
  out.push('');
  out.push(`- Date: ${r.date}`);
  out.push(`- Node: ${r.node}`);
  out.push(`- CPU: ${r.cpuModel}, ${r.cores} cores (Linux ${r.kernel})`);
  out.push(`- Background load before start: ${r.backgroundBusyCores} cores busy`);
  out.push(
    `- Load: autocannon, ${String(r.settings.connections)} connections, no pipelining; ${String(r.settings.warmupS)} s warm-up per case (not reported)`,
  );
  out.push(`- Setup: ${int(r.setup.customers)} customers created in ${r.setup.seconds.toFixed(2)} s (${int(r.setup.perS)}/s)`);
  out.push('');
  out.push('## Results');
  out.push('');
  out.push(mdTable(CASE_HEADERS, caseRows(r)));
  out.push('');
  out.push(
    "Peak RSS is the server's VmHWM over warm-up and run; max VmRSS is sampled every 250 ms. " +
      'srv CPU ms/req is the server CPU time per 2xx answer. ' +
      'CPU is in cores over the measured run: server process / load generator (autocannon, same machine) / everything else on the machine. ' +
      "Loop is the server's event-loop thread (schedstat): share of wall time on a core / runnable but waiting for a core / sleeping (idle or blocked in I/O such as fsync).",
  );
  const noisy = noiseWarning(r);
  if (noisy !== null) {
    out.push('');
    out.push(`**Warning:** ${noisy}`);
  }
  out.push('');
  out.push(`Throughput ratio (many customers / framework ceiling): **${r.ratio.toFixed(3)}**`);
  out.push('');
  out.push(`Per server CPU-second (ceiling CPU ms/req / ours, informational): ${r.cpuNormalizedRatio?.toFixed(3) ?? 'n/a'}`);
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(
    mdTable(
      ['target', 'measured', 'status'],
      r.targets.map((t) => [t.target, t.measured, t.met ? 'met' : '**not met**']),
    ),
  );
  out.push('');
  out.push('## Consistency');
  out.push('');
  out.push(consistencyLine(r.consistency));
  for (const m of r.consistency.mismatches) out.push(`- \`${m.customerId}\`: ${m.problems.join('; ')}`);
  if (r.serverLog.lines > 0) {
    out.push('');
    out.push('## Server log (LOG_LEVEL=warn), last lines');
    out.push('');
    out.push('```');
    out.push(lastLines(r.serverLog.tail, 15));
    out.push('```');
  }
  out.push('');
  return out.join('\n');
}

/** Other processes competing for the cores make every figure a lower bound. */
function noiseWarning(r: BenchReport): string | null {
  const cases = [r.cases.manyCustomers, r.cases.hotCustomer, r.cases.ceiling];
  const worst = Math.max(r.backgroundBusyCores, ...cases.map((c) => c.cpu.otherCores));
  if (worst < 0.25) return null;
  return `other processes used up to ${worst.toFixed(2)} of ${r.cores} cores during the bench; the figures are depressed by that contention and not comparable with a quiet run.`;
}

function consistencyLine(c: ConsistencyReport): string {
  const scope = `${c.customersChecked} customers, ${int(c.entriesRead)} entries read in ${c.seconds.toFixed(1)} s`;
  return c.ok
    ? `consistency: ok (${scope}; balance == sum of entries, balance chains intact, every 2xx credit present)`
    : `consistency: FAILED for ${c.mismatches.length} of ${c.customersChecked} customers (${scope})`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
