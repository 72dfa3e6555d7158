import type { EventStore, RecordedEvent, SubscriptionHeartbeat } from '#event-store';
import { checkProjectionHealth, type ProjectionHealthOptions } from './projection-health.js';
import type { ProjectorRunner, RunnerState } from './projector-runner.js';
import type { ProjectorProgress, WalletProjector } from './wallet-projector.js';

const NOW_MS = Date.parse('2026-12-04T12:00:00.000Z');
const OPTIONS: ProjectionHealthOptions = { stallAfterMs: 30_000, deadlineMs: 50, failuresInARowMax: 3, now: () => NOW_MS };

function event(position: number, streamId = `wallet-biz-cus${position}`): RecordedEvent {
  return {
    streamId,
    revision: 0,
    position,
    eventId: `e${position}`,
    type: 'WalletCredited',
    schemaVersion: 1,
    data: {},
    metadata: {},
    recordedAt: '',
  };
}

function projection(state: RunnerState, progress: Partial<ProjectorProgress>, failure: unknown = null) {
  const runner = { state, failure } as unknown as ProjectorRunner;
  const projector = {
    progress: {
      appliedPosition: null,
      lastBatchAtMs: null,
      subscribedAtMs: null,
      failuresInARow: 0,
      lastError: null,
      ...progress,
    },
  } as unknown as WalletProjector;
  return { runner, projector };
}

type Store = Pick<EventStore, 'headPosition' | 'readAll' | 'subscriptionHealth'>;

function store(log: RecordedEvent[], heartbeat?: SubscriptionHeartbeat): Store & { reads: number } {
  const s = {
    reads: 0,
    headPosition: async () => (log.length === 0 ? null : log[log.length - 1].position),
    readAll: async ({ after, maxCount }: { after: number | null; maxCount: number }) => {
      s.reads += 1;
      return log.filter((e) => after === null || e.position > after).slice(0, maxCount);
    },
    ...(heartbeat ? { subscriptionHealth: () => heartbeat } : {}),
  };
  return s;
}

describe('projection health', () => {
  it('is ready while batches flow, with the heartbeat and the lag in positions', async () => {
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS - 1_000 }),
      store([event(10), event(40), event(55)]),
      OPTIONS,
    );
    expect(health).toMatchObject({
      ready: true,
      state: 'projecting',
      problems: [],
      appliedPosition: 40,
      headPosition: 55,
      lagPositions: 15,
      heartbeatAgeMs: 1_000,
      heartbeatAt: '2026-12-04T11:59:59.000Z',
    });
  });

  it('confirms an idle projector at the head instead of calling an old heartbeat a stall', async () => {
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS - 3_600_000 }),
      store([event(10), event(40)]),
      OPTIONS,
    );
    expect(health).toMatchObject({ ready: true, lagPositions: 0, heartbeatAgeMs: 0 });
  });

  it('confirms idle when only other streams follow the checkpoint (their positions count as lag)', async () => {
    const s = store([event(40), event(41, 'credit-x'), event(42, 'credit-y')]);
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS - 3_600_000 }),
      s,
      OPTIONS,
    );
    expect(health).toMatchObject({ ready: true, lagPositions: 2, heartbeatAgeMs: 0 });
    expect(s.reads).toBe(1);
  });

  it('reports a stall: behind the log with no batch for longer than stallAfterMs', async () => {
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS - 31_000, subscribedAtMs: NOW_MS - 60_000 }),
      store([event(40), event(41)]),
      OPTIONS,
    );
    expect(health.ready).toBe(false);
    expect(health.lagPositions).toBe(1);
    expect(health.heartbeatAgeMs).toBe(31_000);
    expect(health.problems.join()).toMatch(/no batch applied for over 30000 ms while behind the log \(lag 1 positions\)/);
  });

  it("counts the server's word on the subscription (EventStoreDB) as a heartbeat", async () => {
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS - 120_000 }),
      store([event(40), event(41)], { lastHeartbeatAtMs: NOW_MS - 2_000, resubscribes: 4 }),
      OPTIONS,
    );
    expect(health).toMatchObject({ ready: true, heartbeatAgeMs: 2_000, resubscribes: 4 });
  });

  it('does not let a resubscribing projector pass its (re)confirmations off as progress', async () => {
    const health = await checkProjectionHealth(
      projection('projecting', {
        appliedPosition: 40,
        lastBatchAtMs: NOW_MS - 120_000,
        subscribedAtMs: NOW_MS - 500,
        failuresInARow: 3,
        lastError: new Error('InvalidPosition'),
      }),
      store([event(40), event(41)], { lastHeartbeatAtMs: NOW_MS - 100, resubscribes: 30 }),
      OPTIONS,
    );
    expect(health.ready).toBe(false);
    expect(health.heartbeatAgeMs).toBe(120_000);
    expect(health.problems).toEqual([
      'no batch applied for over 30000 ms while behind the log (lag 1 positions)',
      '3 failed attempts in a row; last: InvalidPosition',
    ]);
  });

  it('is not ready when the runner gave up (a refused checkpoint), naming the cause', async () => {
    const refusal = new Error("the read models' checkpoint 90 is beyond the end of the log (55)");
    const health = await checkProjectionHealth(
      projection('failed', { appliedPosition: 90 }, refusal),
      store([event(55)]),
      OPTIONS,
    );
    expect(health).toMatchObject({ ready: false, state: 'failed' });
    expect(health.problems).toEqual([`the projector gave up: ${refusal.message}`]);
  });

  it('flags a checkpoint beyond the head of the log', async () => {
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 90, lastBatchAtMs: NOW_MS }),
      store([event(55)]),
      OPTIONS,
    );
    expect(health.ready).toBe(false);
    expect(health.lagPositions).toBe(-35);
    expect(health.problems.join()).toMatch(/checkpoint 90 is beyond the log's head 55/);
  });

  it('is not ready when the event store does not answer within the deadline', async () => {
    const hanging: Store = { headPosition: () => new Promise(() => undefined), readAll: async () => [] };
    const health = await checkProjectionHealth(
      projection('projecting', { appliedPosition: 40, lastBatchAtMs: NOW_MS }),
      hanging,
      OPTIONS,
    );
    expect(health.ready).toBe(false);
    expect(health.problems).toEqual(['the event store did not answer: head position: no answer within 50 ms']);
  });

  it('is ready standing by (another process projects) without asking the event store', async () => {
    const s = store([event(1)]);
    const health = await checkProjectionHealth(
      projection('standing-by', {}),
      { ...s, headPosition: () => Promise.reject(new Error('not asked')) },
      OPTIONS,
    );
    expect(health).toMatchObject({ ready: true, state: 'standing-by', lagPositions: null });
  });
});
