import { WALLET_STREAM_PREFIX } from '#domain';
import type { EventStore } from '#event-store';
import type { ProjectorRunner, RunnerState } from './projector-runner.js';
import type { WalletProjector } from './wallet-projector.js';

/**
 * Whether the projection in this process is doing its job, for the projector's healthcheck
 * and the API's readiness in in-process mode. "The process is alive" is not enough: a
 * projector can resubscribe forever or sit on a refused checkpoint while the process runs.
 *
 * The heartbeat is the newest sign that the subscription works: a batch applied, the
 * server speaking on the subscription (EventStoreDB), or, when there is nothing to apply,
 * this check itself confirming the projector is at the head (idle is healthy). Lag is the
 * log's head position minus the applied one, in positions (not events: on EventStoreDB a
 * position is a commit position, see docs/positions.md), and it counts records the
 * projector skips (other streams, system records), so a lag alone never fails the check.
 */
export interface ProjectionHealth {
  readonly ready: boolean;
  readonly state: RunnerState;
  /** Why it is not ready; empty when ready. */
  readonly problems: readonly string[];
  readonly appliedPosition: number | null;
  readonly headPosition: number | null;
  readonly lagPositions: number | null;
  /** When the newest heartbeat was seen (ISO 8601), or null. */
  readonly heartbeatAt: string | null;
  readonly heartbeatAgeMs: number | null;
  readonly failuresInARow: number;
  readonly resubscribes: number | null;
  readonly checkedAt: string;
}

export interface ProjectionHealthOptions {
  /** A projecting process without a heartbeat for this long, while behind, is stalled. */
  readonly stallAfterMs: number;
  /** Deadline of each event-store call the check makes. */
  readonly deadlineMs: number;
  /** Failed subscriptions or batches in a row from which the projection counts as failing. */
  readonly failuresInARowMax: number;
  readonly now?: () => number;
}

export const PROJECTION_HEALTH_DEFAULTS: ProjectionHealthOptions = {
  stallAfterMs: 30_000,
  deadlineMs: 2_000,
  failuresInARowMax: 3,
};

/**
 * Events read past the applied position to tell "behind" from "only other records follow".
 * Bounded: past this many, the check counts the projector as behind.
 */
const IDLE_PROBE_EVENTS_MAX = 100;

export async function checkProjectionHealth(
  projection: { readonly runner: ProjectorRunner; readonly projector: WalletProjector },
  eventStore: Pick<EventStore, 'headPosition' | 'readAll' | 'subscriptionHealth'>,
  options: ProjectionHealthOptions = PROJECTION_HEALTH_DEFAULTS,
): Promise<ProjectionHealth> {
  const now = options.now ?? Date.now;
  const state = projection.runner.state;
  const progress = projection.projector.progress;
  const problems: string[] = [];
  const subscription = eventStore.subscriptionHealth?.() ?? null;
  let head: number | null = null;
  let lag: number | null = null;
  let heartbeatAtMs: number | null = null;

  if (state === 'failed') problems.push(`the projector gave up: ${messageOf(projection.runner.failure)}`);
  if (state === 'stopped') problems.push('the projector is stopped (shutting down)');
  if (state === 'projecting') {
    // Lag is known only when the store can tell its head and did so in time.
    let headKnown = false;
    if (eventStore.headPosition !== undefined) {
      try {
        head = await withDeadline(eventStore.headPosition(), options.deadlineMs, 'head position');
        headKnown = true;
      } catch (error) {
        problems.push(`the event store did not answer: ${messageOf(error)}`);
      }
    }
    const applied = progress.appliedPosition;
    if (headKnown) lag = (head ?? 0) - (applied ?? 0);
    if (lag !== null && lag < 0)
      problems.push(`the checkpoint ${applied} is beyond the log's head ${head ?? 'none'}: read models of another log?`);
    // Signs of a working subscription; a subscription in a failure streak proves nothing by (re)starting.
    const candidates = [progress.lastBatchAtMs];
    if (progress.failuresInARow === 0) candidates.push(progress.subscribedAtMs, subscription?.lastHeartbeatAtMs ?? null);
    heartbeatAtMs = newest(candidates);
    const stale = heartbeatAtMs === null || now() - heartbeatAtMs > options.stallAfterMs;
    if (stale && problems.length === 0) {
      // Idle confirmation: nothing of ours after the applied position means nothing to do
      // (and nothing a failing subscription is missing).
      if (lag === 0 || (await nothingToApply(eventStore, applied, options.deadlineMs).catch(() => false))) heartbeatAtMs = now();
      else
        problems.push(
          `no batch applied for over ${options.stallAfterMs} ms while behind the log (lag ${lag ?? 'unknown'} positions)`,
        );
    }
    if (progress.failuresInARow >= options.failuresInARowMax) {
      problems.push(`${progress.failuresInARow} failed attempts in a row; last: ${messageOf(progress.lastError)}`);
    }
  }
  return {
    ready: problems.length === 0,
    state,
    problems,
    appliedPosition: progress.appliedPosition,
    headPosition: head,
    lagPositions: lag,
    heartbeatAt: heartbeatAtMs === null ? null : new Date(heartbeatAtMs).toISOString(),
    heartbeatAgeMs: heartbeatAtMs === null ? null : Math.max(0, now() - heartbeatAtMs),
    failuresInARow: progress.failuresInARow,
    resubscribes: subscription?.resubscribes ?? null,
    checkedAt: new Date(now()).toISOString(),
  };
}

async function nothingToApply(
  eventStore: Pick<EventStore, 'readAll'>,
  applied: number | null,
  deadlineMs: number,
): Promise<boolean> {
  const next = await withDeadline(
    eventStore.readAll({ after: applied, maxCount: IDLE_PROBE_EVENTS_MAX }),
    deadlineMs,
    'read after the checkpoint',
  );
  return next.length < IDLE_PROBE_EVENTS_MAX && !next.some((event) => event.streamId.startsWith(WALLET_STREAM_PREFIX));
}

/** Rejects after `deadlineMs`; the call itself is left to finish (or fail) on its own. */
export function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${deadlineMs} ms`)), deadlineMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function newest(times: ReadonlyArray<number | null>): number | null {
  const known = times.filter((time): time is number => time !== null);
  return known.length === 0 ? null : Math.max(...known);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
