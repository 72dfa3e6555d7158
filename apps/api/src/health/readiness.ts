import type { EventStore } from '#event-store';
import { withDeadline, type ProjectionHealth } from '#ledger';
import type { ReadModelStore } from '#read-models';

/** Deadline of each store call a readiness check makes; the compose healthcheck gives the whole request 4 s. */
export const READINESS_DEADLINE_MS = 2_000;
/**
 * /health needs no key, so anyone can call it: concurrent checks share one round of store
 * calls, and a finished round answers for this long.
 */
export const READINESS_REUSE_MS = 1_000;

export interface StoreCheck {
  readonly ok: boolean;
  readonly latency_ms: number;
  /** Why the check failed; absent when ok. */
  readonly error?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Global position the read models have reached. */
  readonly projection_checkpoint: number | null;
  readonly event_store: StoreCheck & { readonly head_position: number | null };
  readonly read_models: StoreCheck;
  /** The projection in this process (in-process mode only): heartbeat, lag, runner state. */
  readonly projection: ProjectionHealth | null;
  /** Why the projection could not be checked at all; absent otherwise. */
  readonly projection_error?: string;
}

export interface ReadinessDeps {
  readonly eventStore: Pick<EventStore, 'headPosition' | 'readAll'>;
  readonly readModels: Pick<ReadModelStore, 'checkpoint'>;
  /** Present when this process runs the projection; its readiness counts. */
  readonly projection: (() => Promise<ProjectionHealth>) | null;
  readonly deadlineMs: number;
  readonly reuseMs: number;
  readonly now?: () => number;
}

/**
 * Readiness of one API process: the event store it writes to answers (its head position,
 * or one event where the store cannot tell its head), the read models it reads answer (their
 * checkpoint), each within a deadline; and, where this process projects, the projection is
 * not stalled or refused. Liveness (`/health/live`) touches none of this.
 */
export class Readiness {
  private inFlight: Promise<ReadinessReport> | null = null;
  private last: { readonly report: ReadinessReport; readonly atMs: number } | null = null;

  constructor(private readonly deps: ReadinessDeps) {}

  check(): Promise<ReadinessReport> {
    const now = this.deps.now ?? Date.now;
    if (this.last !== null && now() - this.last.atMs < this.deps.reuseMs) return Promise.resolve(this.last.report);
    this.inFlight ??= this.run().then(
      (report) => {
        this.last = { report, atMs: now() };
        this.inFlight = null;
        return report;
      },
      (error: unknown) => {
        this.inFlight = null;
        throw error;
      },
    );
    return this.inFlight;
  }

  private async run(): Promise<ReadinessReport> {
    const { eventStore, readModels, deadlineMs } = this.deps;
    const head = timed(
      () =>
        eventStore.headPosition !== undefined
          ? eventStore.headPosition()
          : eventStore.readAll({ after: null, maxCount: 1 }).then(() => null),
      deadlineMs,
      'head position',
    );
    const checkpoint = timed(() => readModels.checkpoint(), deadlineMs, 'checkpoint');
    const check = this.deps.projection;
    // The projection's own store calls have deadlines too; this one bounds the whole check.
    const projection = check === null ? null : timed(check, deadlineMs * 2, 'projection health');
    const [eventStoreResult, readModelsResult, projectionResult] = await Promise.all([head, checkpoint, projection]);
    const projectionHealth = projectionResult?.value ?? null;
    const projectionOk = projectionResult === null || (projectionResult.ok && projectionHealth?.ready === true);
    return {
      ready: eventStoreResult.ok && readModelsResult.ok && projectionOk,
      projection_checkpoint: readModelsResult.value ?? null,
      event_store: { ...eventStoreResult.check, head_position: eventStoreResult.value ?? null },
      read_models: readModelsResult.check,
      projection: projectionHealth,
      ...(projectionResult !== null && !projectionResult.ok ? { projection_error: projectionResult.check.error } : {}),
    };
  }
}

/** What is wrong, in one line, for the 503 body's `message`. */
export function notReadyMessage(report: ReadinessReport): string {
  const parts: string[] = [];
  if (!report.event_store.ok) parts.push(`event store: ${report.event_store.error}`);
  if (!report.read_models.ok) parts.push(`read models: ${report.read_models.error}`);
  if (report.projection !== null && !report.projection.ready) parts.push(`projection: ${report.projection.problems.join('; ')}`);
  if (report.projection_error !== undefined) parts.push(`projection: ${report.projection_error}`);
  return `Not ready: ${parts.join('; ')}`;
}

async function timed<T>(
  call: () => Promise<T>,
  deadlineMs: number,
  what: string,
): Promise<{ readonly check: StoreCheck; readonly ok: boolean; readonly value?: T }> {
  const started = performance.now();
  try {
    const value = await withDeadline(call(), deadlineMs, what);
    return { ok: true, value, check: { ok: true, latency_ms: Math.round(performance.now() - started) } };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, check: { ok: false, latency_ms: Math.round(performance.now() - started), error: message } };
  }
}
