import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import type { ProjectionLease } from '#read-models';
import { isDeadLocalProcess, leaseOwnerName, ProjectorRunner } from './projector-runner.js';
import type { WalletProjector } from './wallet-projector.js';

describe('lease holder liveness', () => {
  it('names owners role-host-pid', () => {
    expect(leaseOwnerName('api')).toBe(`api-${hostname()}-${process.pid}`);
  });

  it('knows a holder on this host whose process has exited is dead', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid as number;
    await new Promise((resolve) => child.on('exit', resolve));
    expect(isDeadLocalProcess(`api-${hostname()}-${pid}`)).toBe(true);
  });

  it('treats itself, live local processes, other hosts and odd names as alive', () => {
    expect(isDeadLocalProcess(leaseOwnerName('api'))).toBe(false);
    expect(isDeadLocalProcess(`api-${hostname()}-${process.ppid}`)).toBe(false);
    expect(isDeadLocalProcess('api-some-other-host-999999')).toBe(false);
    expect(isDeadLocalProcess('not a lease owner')).toBe(false);
  });
});

describe('a projector that refuses to start on a later lease acquisition', () => {
  it('is logged, stops projecting, releases the lease and reports failed, without an unhandled rejection or a retry loop', async () => {
    const refusal = new Error('checkpoint of another log');
    let acquisitions = 0;
    const released: string[] = [];
    // Stand-by at startup, then the holder goes away and this runner takes the lease.
    const lease: ProjectionLease = {
      tryAcquire: async () => ++acquisitions > 1,
      release: async (owner) => void released.push(owner),
    };
    const calls: string[] = [];
    const projector = {
      start: async () => {
        calls.push('start');
        throw refusal;
      },
      stop: async () => void calls.push('stop'),
    } as unknown as WalletProjector;
    const logged: Array<{ level: string; error?: unknown }> = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const runner = new ProjectorRunner(projector, lease, {
      owner: 'projector-test-1',
      leaseTtlMs: 1000,
      leaseRenewMs: 10,
      log: (level, _message, error) => logged.push({ level, error }),
      holderIsDead: () => false,
    });
    try {
      await runner.start();
      expect(runner.state).toBe('standing-by');
      await until(() => runner.state === 'failed', 2000);
      // Long enough for several more renewals, had the runner kept going.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(calls).toEqual(['start', 'stop']);
      expect(acquisitions).toBe(2);
      expect(released).toEqual(['projector-test-1']);
      expect(runner.isActive).toBe(false);
      expect(runner.failure).toBe(refusal);
      expect(logged).toContainEqual({ level: 'error', error: refusal });
      expect(unhandled).toEqual([]);
      await runner.stop();
      expect(runner.state).toBe('failed');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await runner.stop();
    }
  });

  it('still rejects start() when the refusal comes at startup, so the process fails where the operator looks', async () => {
    const lease: ProjectionLease = { tryAcquire: async () => true, release: async () => undefined };
    const projector = {
      start: async () => {
        throw new Error('refused');
      },
      stop: async () => undefined,
    } as unknown as WalletProjector;
    const runner = new ProjectorRunner(projector, lease, {
      owner: 'api-test-1',
      leaseTtlMs: 1000,
      leaseRenewMs: 10,
      log: () => undefined,
    });
    await expect(runner.start()).rejects.toThrow('refused');
    expect(runner.state).toBe('failed');
    await runner.stop();
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
