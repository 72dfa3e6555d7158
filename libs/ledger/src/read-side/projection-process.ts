import type { EventStore } from '#event-store';
import { openProjectionLease, type LeaseHandle } from '../backends.js';
import type { LedgerConfig } from '../ledger-config.js';
import { leaseOwnerName, ProjectorRunner } from './projector-runner.js';
import { inProcessReadYourWrites, pollingReadYourWrites, type ReadYourWrites } from './read-your-writes.js';
import type { ActiveReadModels } from './versions/active-read-models.js';
import { WalletProjector } from './wallet-projector.js';

/** Events the projector applies in one read-model write. */
const PROJECTOR_BATCH_SIZE_MAX = 500;
/** Pause before resubscribing after a failed batch. */
const PROJECTOR_RESTART_DELAY_MS = 1000;
/** How often a write polls the checkpoint when another process projects. */
const CHECKPOINT_POLL_MS = 5;

export type ProjectionLog = (level: 'info' | 'warn' | 'error', message: string, error?: unknown) => void;

/** The read side of one process: the projector, the runner that holds its lease, and read-your-writes. */
export interface ProjectionProcess {
  readonly projector: WalletProjector;
  readonly runner: ProjectorRunner;
  readonly readYourWrites: ReadYourWrites;
  /** Stops projecting (the last batch reaches its checkpoint), releases the lease, then closes both stores. */
  close(): Promise<void>;
}

export interface ProjectionProcessOptions {
  /** Names the lease owner (`<role>-<host>-<pid>`). */
  readonly role: 'api' | 'projector';
  readonly log: ProjectionLog;
}

/**
 * Wires the projection process once, for the API's in-process mode and for `apps/projector`
 * alike. It takes ownership of the two stores: `close()` closes them after the projector
 * has stopped, in the only order that lets the last batch reach its checkpoint.
 */
export async function openProjectionProcess(
  config: LedgerConfig,
  stores: { readonly eventStore: EventStore; readonly readModels: ActiveReadModels },
  options: ProjectionProcessOptions,
): Promise<ProjectionProcess> {
  const { eventStore, readModels } = stores;
  const lease: LeaseHandle = await openProjectionLease(readModels);
  const projector = new WalletProjector(eventStore, readModels, {
    batchSizeMax: PROJECTOR_BATCH_SIZE_MAX,
    restartDelayMs: PROJECTOR_RESTART_DELAY_MS,
    log: options.log,
  });
  const runner = new ProjectorRunner(projector, lease, {
    owner: leaseOwnerName(options.role),
    leaseTtlMs: config.projectorLeaseTtlMs,
    leaseRenewMs: config.projectorLeaseRenewMs,
    log: options.log,
  });
  return {
    projector,
    runner,
    readYourWrites: readYourWritesFor(projector, runner, readModels),
    async close() {
      await runner.stop();
      await lease.close?.();
      await eventStore.close();
      await readModels.close();
    },
  };
}

/**
 * Wakes on the local projector while it runs; polls the checkpoint when another process
 * projects, and for what is left of the wait if the local projector stops mid-wait.
 */
function readYourWritesFor(projector: WalletProjector, runner: ProjectorRunner, readModels: ActiveReadModels): ReadYourWrites {
  const inProcess = inProcessReadYourWrites(projector);
  const polling = pollingReadYourWrites(readModels, CHECKPOINT_POLL_MS);
  return {
    async waitFor(position, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      if (runner.isActive && (await inProcess.waitFor(position, timeoutMs))) return true;
      return polling.waitFor(position, Math.max(0, deadline - Date.now()));
    },
  };
}
