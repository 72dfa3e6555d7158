import type { ProjectionLease } from './projection-lease.port.js';

export interface ProjectionLeaseHarness {
  /** Another handle on the same projection's lease, as a separate process would hold it. */
  lease(): Promise<ProjectionLease>;
  dispose(): Promise<void>;
}

export interface ProjectionLeaseContractOptions {
  /**
   * Set only where the backend cannot make a takeover atomic; the test is then
   * reported as skipped under this reason instead of failing.
   */
  readonly concurrentTakeoverSkipReason?: string;
}

const TTL_MS = 1_000;
const START_MS = 1_750_000_000_000;

/** Every projection-lease adapter runs this same suite, with a clock the test moves. */
export function projectionLeaseContract(
  name: string,
  open: (clock: () => number) => Promise<ProjectionLeaseHarness>,
  options: ProjectionLeaseContractOptions = {},
): void {
  describe(`ProjectionLease contract: ${name}`, () => {
    let nowMs = START_MS;
    let harness: ProjectionLeaseHarness;

    beforeEach(async () => {
      nowMs = START_MS;
      harness = await open(() => nowMs);
    });
    afterEach(async () => harness.dispose());

    it('lets the first owner acquire, and renew what it holds', async () => {
      const lease = await harness.lease();
      expect(await lease.tryAcquire('a', TTL_MS)).toBe(true);
      nowMs += TTL_MS / 2;
      expect(await lease.tryAcquire('a', TTL_MS)).toBe(true);
    });

    it('refuses a second owner while the lease is live, up to its expiry', async () => {
      const [a, b] = [await harness.lease(), await harness.lease()];
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      expect(await b.tryAcquire('b', TTL_MS)).toBe(false);
      nowMs += TTL_MS;
      expect(await b.tryAcquire('b', TTL_MS)).toBe(false);
    });

    it('lets a second owner take over once the lease has lapsed, and the first then loses it', async () => {
      const [a, b] = [await harness.lease(), await harness.lease()];
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      nowMs += TTL_MS + 1;
      expect(await b.tryAcquire('b', TTL_MS)).toBe(true);
      expect(await a.tryAcquire('a', TTL_MS)).toBe(false);
    });

    it('measures the TTL from the latest renewal', async () => {
      const [a, b] = [await harness.lease(), await harness.lease()];
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      nowMs += 900;
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      nowMs += 600;
      expect(await b.tryAcquire('b', TTL_MS)).toBe(false);
      nowMs += 401;
      expect(await b.tryAcquire('b', TTL_MS)).toBe(true);
    });

    it('hands a live lease over at once when its holder is known dead, and only then', async () => {
      const [a, b] = [await harness.lease(), await harness.lease()];
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      expect(await b.tryAcquire('b', TTL_MS, () => false)).toBe(false);
      expect(await b.tryAcquire('b', TTL_MS, (holder) => holder === 'a')).toBe(true);
      expect(await a.tryAcquire('a', TTL_MS)).toBe(false);
    });

    it('frees the lease on release by its holder, and ignores a release by anyone else', async () => {
      const [a, b] = [await harness.lease(), await harness.lease()];
      expect(await a.tryAcquire('a', TTL_MS)).toBe(true);
      await b.release('b');
      expect(await b.tryAcquire('b', TTL_MS)).toBe(false);
      await a.release('a');
      expect(await b.tryAcquire('b', TTL_MS)).toBe(true);
    });

    it('gives a free lease to exactly one of 10 concurrent owners', async () => {
      expect(await countWinners(harness, 10)).toBe(1);
    });

    const takeover = options.concurrentTakeoverSkipReason === undefined ? it : it.skip;
    const reason = options.concurrentTakeoverSkipReason ? ` (skipped: ${options.concurrentTakeoverSkipReason})` : '';
    takeover(`gives a lapsed lease to exactly one of 10 concurrent owners${reason}`, async () => {
      expect(await (await harness.lease()).tryAcquire('old', TTL_MS)).toBe(true);
      nowMs += TTL_MS + 1;
      expect(await countWinners(harness, 10)).toBe(1);
    });
  });
}

async function countWinners(harness: ProjectionLeaseHarness, owners: number): Promise<number> {
  const leases = await Promise.all(Array.from({ length: owners }, () => harness.lease()));
  const results = await Promise.all(leases.map((lease, i) => lease.tryAcquire(`owner-${i}`, TTL_MS)));
  return results.filter(Boolean).length;
}
