import { hostname } from 'node:os';
import type { ProjectionLease } from '#read-models';
import type { WalletProjector } from './wallet-projector.js';

export interface ProjectorRunnerOptions {
  readonly owner: string;
  readonly leaseTtlMs: number;
  /** How often the holder renews and a stand-by retries; well inside the TTL. */
  readonly leaseRenewMs: number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, error?: unknown) => void;
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

/**
 * Runs the projector only while holding the projection lease: one instance projects,
 * the others stand by and take over when the holder stops renewing. A holder that
 * fails to renew stops projecting before its lease can lapse.
 */
export class ProjectorRunner {
  private timer: NodeJS.Timeout | null = null;
  private active = false;
  private stopped = false;
  private tick: Promise<void> = Promise.resolve();

  constructor(
    private readonly projector: WalletProjector,
    private readonly lease: ProjectionLease,
    private readonly options: ProjectorRunnerOptions,
  ) {}

  get isActive(): boolean {
    return this.active;
  }

  /** Tries once right away (so a lone instance projects from the first request), then keeps renewing. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.renew();
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
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.renew().finally(() => this.schedule());
    }, this.options.leaseRenewMs);
  }

  private async renew(): Promise<void> {
    let held = false;
    try {
      held = await this.lease.tryAcquire(this.options.owner, this.options.leaseTtlMs, this.options.holderIsDead ?? isDeadLocalProcess);
    } catch (error) {
      this.options.log('error', 'lease renewal failed', error);
    }
    if (this.stopped) return;
    if (held && !this.active) {
      this.active = true;
      this.options.log('info', `${this.options.owner} holds the projection lease; projecting`);
      await this.projector.start();
    } else if (!held && this.active) {
      this.active = false;
      this.options.log('warn', `${this.options.owner} lost the projection lease; standing by`);
      await this.projector.stop();
    }
  }
}
