import type { ProjectionHealth } from '#ledger';
import { notReadyMessage, Readiness, type ReadinessDeps } from './readiness.js';

const projectionHealth = (ready: boolean, problems: string[] = []): ProjectionHealth => ({
  ready,
  state: ready ? 'projecting' : 'failed',
  problems,
  appliedPosition: 5,
  headPosition: 5,
  lagPositions: 0,
  heartbeatAt: null,
  heartbeatAgeMs: null,
  failuresInARow: 0,
  resubscribes: null,
  checkedAt: new Date(0).toISOString(),
});

function deps(overrides: Partial<ReadinessDeps> = {}): ReadinessDeps & { calls: { head: number } } {
  const calls = { head: 0 };
  return {
    calls,
    eventStore: {
      headPosition: async () => {
        calls.head += 1;
        return 42;
      },
      readAll: async () => [],
    },
    readModels: { checkpoint: async () => 40 },
    projection: null,
    deadlineMs: 50,
    reuseMs: 0,
    ...overrides,
  };
}

describe('API readiness', () => {
  it('is ready when the event store and the read models answer, and shows what they said', async () => {
    const report = await new Readiness(deps()).check();
    expect(report).toMatchObject({
      ready: true,
      projection_checkpoint: 40,
      event_store: { ok: true, head_position: 42 },
      read_models: { ok: true },
      projection: null,
    });
  });

  it('is not ready when the event store hangs past the deadline, and says so', async () => {
    const report = await new Readiness(
      deps({ eventStore: { headPosition: () => new Promise(() => undefined), readAll: async () => [] } }),
    ).check();
    expect(report.ready).toBe(false);
    expect(report.event_store).toMatchObject({ ok: false, head_position: null, error: 'head position: no answer within 50 ms' });
    expect(report.read_models.ok).toBe(true);
    expect(notReadyMessage(report)).toBe('Not ready: event store: head position: no answer within 50 ms');
  });

  it('is not ready when the read models fail', async () => {
    const report = await new Readiness(
      deps({ readModels: { checkpoint: () => Promise.reject(new Error('connection refused')) } }),
    ).check();
    expect(report).toMatchObject({
      ready: false,
      projection_checkpoint: null,
      read_models: { ok: false, error: 'connection refused' },
    });
  });

  it('asks a store without a head position for one event instead', async () => {
    let reads = 0;
    const report = await new Readiness(
      deps({
        eventStore: {
          readAll: async () => {
            reads += 1;
            return [];
          },
        },
      }),
    ).check();
    expect(report).toMatchObject({ ready: true, event_store: { ok: true, head_position: null } });
    expect(reads).toBe(1);
  });

  it("counts this process's projection when it projects", async () => {
    const stalled = await new Readiness(
      deps({ projection: async () => projectionHealth(false, ['the projector gave up: foreign checkpoint']) }),
    ).check();
    expect(stalled.ready).toBe(false);
    expect(notReadyMessage(stalled)).toBe('Not ready: projection: the projector gave up: foreign checkpoint');
    const broken = await new Readiness(deps({ projection: () => Promise.reject(new Error('boom')) })).check();
    expect(broken).toMatchObject({ ready: false, projection: null, projection_error: 'boom' });
    expect((await new Readiness(deps({ projection: async () => projectionHealth(true) })).check()).ready).toBe(true);
  });

  it('shares one round of store calls between concurrent probes and reuses it briefly', async () => {
    let nowMs = 1_000;
    const d = deps({ reuseMs: 1_000, now: () => nowMs });
    const readiness = new Readiness(d);
    await Promise.all(Array.from({ length: 20 }, () => readiness.check()));
    expect(d.calls.head).toBe(1);
    nowMs += 999;
    await readiness.check();
    expect(d.calls.head).toBe(1);
    nowMs += 1;
    await readiness.check();
    expect(d.calls.head).toBe(2);
  });
});
