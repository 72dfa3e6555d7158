import { WALLET_STREAM_PREFIX } from '#domain';
import type { EventStore, LogHead } from '#event-store';
import { WALLET_PROJECTION } from '#read-models';
import { isDeadLocalProcess, leaseOwnerName } from '../projector-runner.js';
import type { ReadModelBackend } from './read-model-backend.js';

export interface RebuildProgress {
  readonly phase: 'catching-up' | 'final-catch-up' | 'switched' | 'dropped-old';
  readonly version: number;
  /** Events read from the log by this run. */
  readonly done: number;
  /** Events this run is expected to read in all (refreshed as the log grows). */
  readonly total: number;
  readonly position: number | null;
  readonly eventsPerSecond: number;
  /** Seconds left at the current rate; null until there is a rate. */
  readonly etaSeconds: number | null;
}

export interface RebuildOptions {
  readonly name?: string;
  /** Keep the old version's tables or collections after the switch. */
  readonly keepOld?: boolean;
  /** Events read from the log, and applied in one transaction, at once. */
  readonly batchSize?: number;
  /** Lag (events) under which the new version counts as caught up and the switch begins. */
  readonly switchLagMax?: number;
  /** After the switch, how long running processes get to move off the old version before it is dropped. */
  readonly dropDelayMs?: number;
  readonly leaseTtlMs?: number;
  readonly leaseRenewMs?: number;
  /** How long to wait for another rebuild's lease (a killed rebuild's lease lapses after its TTL). */
  readonly leaseWaitMs?: number;
  readonly owner?: string;
  readonly onProgress?: (progress: RebuildProgress) => void;
  readonly log?: (message: string) => void;
  /** Stops between batches as a crash would (registry and checkpoint left as they are); for tests. */
  readonly signal?: AbortSignal;
}

export interface RebuildResult {
  readonly name: string;
  readonly from: number;
  readonly to: number;
  /** True when this run continued a rebuild a previous run had started. */
  readonly resumed: boolean;
  /** Position the new version's checkpoint stood at when this run started. */
  readonly startedFrom: number | null;
  /** Events read from the log by this run. */
  readonly events: number;
  /** Time spent building and switching (without the wait before dropping the old version). */
  readonly buildMs: number;
  readonly eventsPerSecond: number;
  readonly positionAtSwitch: number | null;
  readonly droppedOld: boolean;
}

export class RebuildBusyError extends Error {
  constructor(name: string, waitedMs: number) {
    super(`another rebuild of ${name} holds the rebuild lease (waited ${waitedMs} ms); try again when it has finished`);
    this.name = 'RebuildBusyError';
  }
}

export class RebuildInterruptedError extends Error {
  constructor() {
    super("rebuild interrupted; run it again to resume from the new version's checkpoint");
    this.name = 'RebuildInterruptedError';
  }
}

const DEFAULTS = {
  batchSize: 10_000,
  switchLagMax: 1_000,
  dropDelayMs: 5_000,
  leaseTtlMs: 10_000,
  leaseRenewMs: 2_000,
  finalCatchUpRounds: 20,
} as const;

/**
 * Blue/green rebuild of a projection. With version N active (and still served and fed by
 * running processes), version N + 1 is built into tables/collections of its own from the
 * start of the log, with the current code's layout. Once it is within `switchLagMax` of the
 * head, a final catch-up brings it to the head and the registry switches N + 1 active in
 * one conditional write. Running processes follow within a second (`ActiveReadModels`):
 * their projector continues N + 1 from its own checkpoint. Then N is dropped, unless kept.
 *
 * Resumable: the registry records N + 1 as being rebuilt and its progress is its own
 * checkpoint, committed with each batch, so a run killed at any point is continued by the
 * next. One rebuild at a time, by a lease of its own (`<name>_rebuild`).
 */
export async function rebuildProjection(
  /** The log is read through `logHead` (in bulk on the embedded store, through `eventStore`'s port otherwise). */
  deps: { readonly eventStore: EventStore; readonly backend: ReadModelBackend; readonly logHead: LogHead },
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const name = options.name ?? WALLET_PROJECTION.name;
  if (name !== WALLET_PROJECTION.name) throw new Error(`unknown projection "${name}" (known: ${WALLET_PROJECTION.name})`);
  const o = { ...DEFAULTS, ...withoutUndefined(options) };
  const log = options.log ?? (() => undefined);
  const { backend, logHead } = deps;
  const lease = await backend.lease(`${name}_rebuild`);
  const owner = options.owner ?? leaseOwnerName('rebuild');
  await acquire(lease, owner, o.leaseTtlMs, options.leaseWaitMs ?? o.leaseTtlMs + 2_000, name, log);
  let leaseLost: unknown = null;
  const renewal = setInterval(() => {
    lease.tryAcquire(owner, o.leaseTtlMs).then(
      (held) => {
        if (!held) leaseLost ??= new Error('lost the rebuild lease');
      },
      (error: unknown) => (leaseLost ??= error),
    );
  }, o.leaseRenewMs);
  renewal.unref();
  let interrupted = false;
  try {
    const registry = backend.registry;
    const entry = await registry.ensure(name, WALLET_PROJECTION.version);
    const from = entry.activeVersion;
    let to: number;
    const resumed = entry.rebuildingVersion !== null;
    if (entry.rebuildingVersion !== null) {
      to = entry.rebuildingVersion;
      log(`resuming the rebuild of ${name} v${to} (v${from} active)`);
    } else {
      to = from + 1;
      // Whatever an abandoned attempt (or a version rolled back from) left under this version's
      // names goes first. Leftovers without a checkpoint are at most one batch, which the
      // stores' guards make safe to apply again.
      if ((await backend.checkpointOf(to)) !== null) {
        const stale = await backend.openVersion(to);
        await stale.drop();
        await stale.close();
      }
      if (!(await registry.beginRebuild(name, from, to)))
        throw new Error(`the ${name} registry entry changed while starting the rebuild`);
      log(`rebuilding ${name} v${to} from the start of the log while v${from} keeps serving`);
    }

    const store = await backend.openVersion(to);
    try {
      await store.beginBulkLoad?.();
      const startedFrom = await store.checkpoint();
      let position = startedFrom;
      let done = 0;
      let total = await logHead.countAfter(position);
      const started = performance.now();
      let lastCount = started;
      const progress = (phase: RebuildProgress['phase']) => {
        const seconds = (performance.now() - started) / 1000;
        const rate = seconds > 0 ? done / seconds : 0;
        options.onProgress?.({
          phase,
          version: to,
          done,
          total: Math.max(total, done),
          position,
          eventsPerSecond: Math.round(rate),
          etaSeconds: rate > 0 ? Math.max(total - done, 0) / rate : null,
        });
      };
      /** Reads and applies one batch; returns how many events it read (0: at the head of the log). */
      const step = async (): Promise<number> => {
        if (leaseLost !== null) throw leaseLost;
        if (options.signal?.aborted) {
          interrupted = true;
          throw new RebuildInterruptedError();
        }
        const events = await logHead.read(position, o.batchSize);
        if (events.length === 0) return 0;
        const wallet = events.filter((event) => event.streamId.startsWith(WALLET_STREAM_PREFIX));
        if (wallet.length > 0) await store.applyEvents(wallet);
        position = events[events.length - 1].position;
        done += events.length;
        if (performance.now() - lastCount > 5_000) {
          // The log keeps growing while we build: refresh the total now and then.
          lastCount = performance.now();
          total = done + (await logHead.countAfter(position));
        }
        return events.length;
      };

      for (;;) {
        const read = await step();
        progress('catching-up');
        if (read === 0) break;
        if (read < o.batchSize && (await logHead.countAfter(position)) <= o.switchLagMax) break;
      }
      // Indexes deferred during the bulk load are built now, before anything reads this version.
      await store.endBulkLoad?.();
      // Final catch-up: to the head (bounded, in case writers outpace us; the live projector
      // continues from our checkpoint after the switch anyway, so nothing is lost).
      for (let round = 0; round < o.finalCatchUpRounds && (await step()) > 0; round += 1) progress('final-catch-up');
      if (!(await registry.switchActive(name, from, to))) {
        throw new Error(
          `could not switch ${name} to v${to}: the registry no longer shows v${from} active with v${to} rebuilding`,
        );
      }
      const buildMs = performance.now() - started;
      progress('switched');
      log(`${name} v${to} is active (checkpoint ${position ?? 'none'}); running processes follow within a second`);

      let droppedOld = false;
      if (!options.keepOld) {
        await sleep(o.dropDelayMs);
        const old = await backend.openVersion(from);
        await old.drop();
        await old.close();
        droppedOld = true;
        progress('dropped-old');
        log(`dropped ${name} v${from}`);
      } else {
        log(`kept ${name} v${from} (--keep-old); nothing feeds it any more`);
      }
      return {
        name,
        from,
        to,
        resumed,
        startedFrom,
        events: done,
        buildMs: Math.round(buildMs),
        eventsPerSecond: Math.round(done / Math.max(buildMs / 1000, 0.001)),
        positionAtSwitch: position,
        droppedOld,
      };
    } finally {
      await store.close();
    }
  } finally {
    clearInterval(renewal);
    // An interrupted run leaves its lease to lapse, as a killed process would.
    if (!interrupted) await lease.release(owner).catch(() => undefined);
    await lease.close?.();
  }
}

async function acquire(
  lease: { tryAcquire(owner: string, ttlMs: number, holderIsDead?: (holder: string) => boolean): Promise<boolean> },
  owner: string,
  ttlMs: number,
  waitMs: number,
  name: string,
  log: (message: string) => void,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  // A rebuild killed on this host (its pid gone) does not make the next one wait out the TTL.
  while (!(await lease.tryAcquire(owner, ttlMs, isDeadLocalProcess))) {
    if (Date.now() >= deadline) throw new RebuildBusyError(name, waitMs);
    if (!told) {
      log(`waiting for the ${name} rebuild lease (another rebuild runs, or a killed one's lease has not lapsed yet)`);
      told = true;
    }
    await sleep(250);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
