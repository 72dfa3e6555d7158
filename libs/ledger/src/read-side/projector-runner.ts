import { hostname } from 'node:os';
import type { ProjectionLease } from '#read-models';
import type { WalletProjector } from './wallet-projector.js';

export interface ProjectorRunnerOptions {
  readonly owner: string;
  readonly leaseTtlMs: number;
  /** How often the holder renews and a stand-by retries; well inside the TTL. */
  readonly leaseRenewMs: number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, error?: unknown) => void;
  /**
   * Where giving up is logged (see the class comment); `log` by default. The API writes its
   * runner's lease trouble as warnings, but a projector that refuses to start is an error
   * in every process.
   */
  readonly failureLog?: (level: 'error', message: string, error?: unknown) => void;
  /** Whether a lease holder is known to be dead; by default, a process of this host whose pid is gone. */
  readonly holderIsDead?: (holder: string) => boolean;
}

/** Owner names look like `<role>-<hostname>-<pid>`, so a restart on the same host can recognise its dead predecessor. */
export function leaseOwnerName(role: string): string {
  return `${role}-${hostname()}-${process.pid}`;
}

/** A holder on this host whose process no longer exists. A recycled pid reads as alive: the safe side. */
export function isDeadLocalProcess(holder: string): boolean {
  const match = /^[a-z]+-(.+)-(\d+)$/.exec(holder);
  if (match === null || match[1] !== hostname()) return false;
  const pid = Number(match[2]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** What the runner is doing; `failed` until the process is restarted. */
export type RunnerState = 'projecting' | 'standing-by' | 'failed' | 'stopped';

/**
 * Runs the projector only while holding the projection lease: one instance projects,
 * the others stand by and take over when the holder stops renewing. A holder that
 * fails to renew stops projecting before its lease can lapse.
 *
 * A projector that refuses to start once the lease is taken (a checkpoint of another log,
 * say) makes the runner give up: it logs the error, releases the lease so a stand-by
 * can try, stops renewing (retrying would only repeat the refusal every `leaseRenewMs`)
 * and reports `failed` (health turns not ready) until the process is restarted.
 */
export class ProjectorRunner {
  private timer: NodeJS.Timeout | null = null;
  private active = false;
  private stopped = false;
  private tick: Promise<void> = Promise.resolve();
  private failed: unknown = null;

  constructor(
    private readonly projector: WalletProjector,
    private readonly lease: ProjectionLease,
    private readonly options: ProjectorRunnerOptions,
  ) {}

  get isActive(): boolean {
    return this.active;
  }

  get state(): RunnerState {
    if (this.failed !== null) return 'failed';
    if (this.stopped) return 'stopped';
    return this.active ? 'projecting' : 'standing-by';
  }

  /** Why the runner gave up (see the class comment), or null. */
  get failure(): unknown {
    return this.failed;
  }

  /**
   * Tries once right away (so a lone instance projects from the first request), then keeps
   * renewing. A projector that refuses to start here rejects this call, so the process
   * fails at startup where the operator is looking; later refusals only show in health.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.renew();
    if (this.failed !== null) throw this.failed;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.tick;
    if (this.active) {
      await this.projector.stop();
      this.active = false;
      await this.lease.release(this.options.owner).catch((e: unknown) => this.options.log('warn', 'lease release failed', e));
    }
  }

  private schedule(): void {
    if (this.stopped || this.failed !== null) return;
    this.timer = setTimeout(() => {
      this.tick = this.renew().finally(() => this.schedule());
    }, this.options.leaseRenewMs);
  }

  private async renew(): Promise<void> {
    let held = false;
    try {
      held = await this.lease.tryAcquire(
        this.options.owner,
        this.options.leaseTtlMs,
        this.options.holderIsDead ?? isDeadLocalProcess,
      );
    } catch (error) {
      this.options.log('error', 'lease renewal failed', error);
    }
    if (this.stopped || this.failed !== null) return;
    if (held && !this.active) {
      this.active = true;
      this.options.log('info', `${this.options.owner} holds the projection lease; projecting`);
      try {
        await this.projector.start();
      } catch (error) {
        await this.giveUp(error);
      }
    } else if (!held && this.active) {
      this.active = false;
      this.options.log('warn', `${this.options.owner} lost the projection lease; standing by`);
      // Runs on a timer: a rejection here would be unhandled.
      await this.projector.stop().catch((e: unknown) => this.options.log('warn', 'projector stop failed', e));
    }
  }

  private async giveUp(error: unknown): Promise<void> {
    this.failed = error;
    (this.options.failureLog ?? this.options.log)(
      'error',
      `${this.options.owner} could not start the projector; releasing the lease and not projecting until restarted`,
      error,
    );
    if (this.timer !== null) clearTimeout(this.timer);
    await this.projector.stop().catch((e: unknown) => this.options.log('warn', 'projector stop failed', e));
    this.active = false;
    await this.lease.release(this.options.owner).catch((e: unknown) => this.options.log('warn', 'lease release failed', e));
  }
}
