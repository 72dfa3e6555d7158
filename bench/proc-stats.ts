import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Linux /proc readers: memory and CPU of the server child, CPU of the whole machine. */

const CLOCK_TICKS_PER_S = 100; // USER_HZ; 100 on every mainstream Linux build.

/** A `Vm*` field of /proc/<pid>/status in bytes, or null when the process is gone. */
export function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (`echo 5 > clear_refs`,
 * Linux >= 4.0), so each case reports its own peak. False when the kernel refuses.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) the process has used, or null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

/**
 * Scheduler figures of one thread (/proc/<pid>/task/<tid>/schedstat): seconds on a CPU
 * and seconds runnable but waiting for one (CPU contention). Null when unavailable.
 */
export function threadSchedSeconds(pid: number, tid = pid): { onCpu: number; waitingForCpu: number } | null {
  try {
    const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    if (!Number.isFinite(onCpu) || !Number.isFinite(waiting)) return null;
    return { onCpu: onCpu / 1e9, waitingForCpu: waiting / 1e9 };
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine, summed over all cores. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLOCK_TICKS_PER_S, total: (busy + idle + iowait) / CLOCK_TICKS_PER_S };
}

export function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1].trim();
  } catch {
    // fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** Average busy cores of the whole machine over `ms`: how loaded it is before the bench starts. */
export async function machineBusyCoresOver(ms: number): Promise<number> {
  const start = machineCpuSeconds();
  const wallStart = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const end = machineCpuSeconds();
  const wallS = Number(process.hrtime.bigint() - wallStart) / 1e9;
  return round((end.busy - start.busy) / wallS, 2);
}

/**
 * Waits, up to `maxMs`, for a 1 s window in which the machine is nearly idle (other
 * people's builds and tests share these cores). Returns the last window's busy cores.
 */
export async function waitForQuietMachine(
  maxMs: number,
  thresholdCores: number,
): Promise<{ busyCores: number; waitedS: number }> {
  const started = Date.now();
  for (;;) {
    const busyCores = await machineBusyCoresOver(1000);
    const waitedS = round((Date.now() - started) / 1000, 1);
    if (busyCores < thresholdCores || Date.now() - started >= maxMs) return { busyCores, waitedS };
  }
}

/** Samples VmRSS on a timer and keeps the maximum. */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  max = 0;
  samples = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): number {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.max;
  }

  private sample(): void {
    const rss = procStatusBytes(this.pid, 'VmRSS');
    if (rss === null) return;
    this.samples += 1;
    if (rss > this.max) this.max = rss;
  }
}

/** CPU used by the server child, by this (load-generating) process and by the machine over a window. */
export class CpuWindow {
  private readonly serverStart: number | null;
  private readonly mainThreadStart: { onCpu: number; waitingForCpu: number } | null;
  private readonly selfStart = process.cpuUsage();
  private readonly machineStart = machineCpuSeconds();
  private readonly wallStart = process.hrtime.bigint();

  constructor(private readonly serverPid: number) {
    this.serverStart = processCpuSeconds(serverPid);
    this.mainThreadStart = threadSchedSeconds(serverPid);
  }

  /** Each figure is in "cores": 1.0 means one core fully busy on average. */
  finish(): CpuSplit {
    const wallS = Number(process.hrtime.bigint() - this.wallStart) / 1e9;
    const serverEnd = processCpuSeconds(this.serverPid);
    const self = process.cpuUsage(this.selfStart);
    const machine = machineCpuSeconds();
    const server = this.serverStart !== null && serverEnd !== null ? (serverEnd - this.serverStart) / wallS : null;
    const generator = (self.user + self.system) / 1e6 / wallS;
    const busy = (machine.busy - this.machineStart.busy) / wallS;
    const mainEnd = threadSchedSeconds(this.serverPid);
    const main =
      this.mainThreadStart === null || mainEnd === null
        ? null
        : {
            onCpu: (mainEnd.onCpu - this.mainThreadStart.onCpu) / wallS,
            waitingForCpu: (mainEnd.waitingForCpu - this.mainThreadStart.waitingForCpu) / wallS,
          };
    return {
      wallSeconds: round(wallS, 2),
      serverCores: server === null ? null : round(server, 2),
      loadGeneratorCores: round(generator, 2),
      otherCores: round(Math.max(0, busy - generator - (server ?? 0)), 2),
      machineBusyCores: round(busy, 2),
      machineCores: cpus().length,
      serverMainThread:
        main === null
          ? null
          : {
              onCpu: round(main.onCpu, 2),
              waitingForCpu: round(main.waitingForCpu, 2),
              sleeping: round(Math.max(0, 1 - main.onCpu - main.waitingForCpu), 2),
            },
    };
  }
}

export interface CpuSplit {
  readonly wallSeconds: number;
  /** The server process, all its threads. */
  readonly serverCores: number | null;
  /** The bench process: autocannon, the RSS sampler. */
  readonly loadGeneratorCores: number;
  /** Everything else on the machine (other processes, the kernel): busy minus server minus generator. */
  readonly otherCores: number;
  readonly machineBusyCores: number;
  readonly machineCores: number;
  /**
   * Shares of the wall time of the server's event-loop thread: running, runnable but
   * waiting for a core (contention), and sleeping (idle in epoll, or blocked in I/O such as fsync).
   */
  readonly serverMainThread: { readonly onCpu: number; readonly waitingForCpu: number; readonly sleeping: number } | null;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
