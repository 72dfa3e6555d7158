import type { EventStore } from '#event-store';
import { projectionVersionName, WALLET_PROJECTION } from '#read-models';
import type { LeaseHandle } from './versions/read-model-backend.js';
import type { LedgerConfig } from '../ledger-config.js';
import {
  checkProjectionHealth,
  PROJECTION_HEALTH_DEFAULTS,
  type ProjectionHealth,
  type ProjectionHealthOptions,
} from './projection-health.js';
import { leaseOwnerName, ProjectorRunner } from './projector-runner.js';
import { inProcessReadYourWrites, pollingReadYourWrites, type ReadYourWrites } from './read-your-writes.js';
import type { ActiveReadModels } from './versions/active-read-models.js';
import { WalletProjector } from './wallet-projector.js';

// The health check's types and helpers are part of the read side's public surface through this module.
export * from './projection-health.js';

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
  /** Heartbeat, lag and whether this process's projection is doing its job (see `checkProjectionHealth`). */
  health(options?: ProjectionHealthOptions): Promise<ProjectionHealth>;
  /** Stops projecting (the last batch reaches its checkpoint), releases the lease, then closes both stores. */
  close(): Promise<void>;
}

export interface ProjectionProcessOptions {
  /** Names the lease owner (`<role>-<host>-<pid>`). */
  readonly role: 'api' | 'projector';
  /** Where the projector (batches) and the runner (lease) log; each process picks its levels. */
  readonly log: { readonly projector: ProjectionLog; readonly runner: ProjectionLog };
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
  // The live projector's lease keeps the name it always had, whichever version is active: a
  // process started before a blue/green switch and one started after must still exclude each other.
  const lease: LeaseHandle = await readModels.backend.lease(
    projectionVersionName(WALLET_PROJECTION.name, WALLET_PROJECTION.version),
  );
  const projector = new WalletProjector(eventStore, readModels, {
    batchSizeMax: PROJECTOR_BATCH_SIZE_MAX,
    restartDelayMs: PROJECTOR_RESTART_DELAY_MS,
    log: options.log.projector,
  });
  const runner = new ProjectorRunner(projector, lease, {
    owner: leaseOwnerName(options.role),
    leaseTtlMs: config.projectorLeaseTtlMs,
    leaseRenewMs: config.projectorLeaseRenewMs,
    log: options.log.runner,
    failureLog: options.log.projector,
  });
  return {
    projector,
    runner,
    readYourWrites: readYourWritesFor(projector, runner, readModels),
    health: (healthOptions = PROJECTION_HEALTH_DEFAULTS) =>
      checkProjectionHealth({ runner, projector }, eventStore, healthOptions),
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
