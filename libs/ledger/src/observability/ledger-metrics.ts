import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventStore } from '#event-store';
import type { ReadModelStore } from '#read-models';

/** How the executor reports what happened, without knowing about Prometheus. */
export interface CommandObserver {
  appended(durationMs: number, ok: boolean): void;
  outcome(command: string, outcome: 'applied' | 'unchanged' | 'refused' | 'failed'): void;
}

/** Lag is measured at scrape time over at most this many events, so a scrape stays cheap. */
const LAG_SCAN_MAX = 10_000;

/** Prometheus metrics for the ledger: HTTP, commands, appends, projection lag. */
export class LedgerMetrics implements CommandObserver {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly commands = new Counter({
    name: 'ledger_commands_total',
    help: 'Wallet commands by type and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly appendDuration = new Histogram({
    name: 'event_store_append_duration_seconds',
    help: 'Event-store append latency (one append may carry several commands)',
    labelNames: ['ok'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor(eventStore: EventStore, readModels: ReadModelStore) {
    collectDefaultMetrics({ register: this.registry });
    const lag = async () => measureLag(eventStore, readModels);
    new Gauge({
      name: 'projection_lag_events',
      help: `Events not yet in the read models (counted up to ${LAG_SCAN_MAX})`,
      registers: [this.registry],
      async collect() {
        this.set((await lag()).events);
      },
    });
    new Gauge({
      name: 'projection_lag_seconds',
      help: 'Age of the oldest event not yet in the read models',
      registers: [this.registry],
      async collect() {
        this.set((await lag()).seconds);
      },
    });
  }

  appended(durationMs: number, ok: boolean): void {
    this.appendDuration.observe({ ok: String(ok) }, durationMs / 1000);
  }

  outcome(command: string, outcome: 'applied' | 'unchanged' | 'refused' | 'failed'): void {
    this.commands.inc({ command, outcome });
  }
}

async function measureLag(eventStore: EventStore, readModels: ReadModelStore): Promise<{ events: number; seconds: number }> {
  const checkpoint = await readModels.checkpoint();
  const behind = await eventStore.readAll({ after: checkpoint, maxCount: LAG_SCAN_MAX });
  if (behind.length === 0) return { events: 0, seconds: 0 };
  const oldestMs = Date.parse(behind[0].recordedAt);
  return { events: behind.length, seconds: Math.max(0, (Date.now() - oldestMs) / 1000) };
}
