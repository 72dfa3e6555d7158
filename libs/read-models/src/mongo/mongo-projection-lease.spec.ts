import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { projectionLeaseContract } from '../projection-lease.contract.js';
import { MongoProjectionLease } from './mongo-projection-lease.js';

const url = process.env.MONGODB_URL;
// These tests need a MongoDB-compatible server; `eval "$(scripts/ferretdb.sh start)"` provides one.
// Without MONGODB_URL they are reported as skipped rather than passing vacuously.
const describeMongo = url !== undefined && url !== '' ? describe : describe.skip;

/** FerretDB 1.x updates by read-then-write, so racing takeovers of a lapsed lease can all win there. */
async function takeoverSkipReason(serverUrl: string): Promise<string | undefined> {
  const client = await MongoClient.connect(serverUrl);
  try {
    const info = await client.db('admin').command({ buildInfo: 1 });
    return typeof info.ferretdbVersion === 'string'
      ? `FerretDB ${info.ferretdbVersion} has no atomic conditional update`
      : undefined;
  } finally {
    await client.close();
  }
}

const skipReason = url ? await takeoverSkipReason(url) : undefined;

describeMongo('MongoProjectionLease (MONGODB_URL)', () => {
  projectionLeaseContract(
    'mongo',
    async (clock) => {
      const client = await MongoClient.connect(url!);
      const db = client.db(`lease_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
      return {
        lease: async () => new MongoProjectionLease({ db, projectionName: 'wallet_v1', clock }),
        dispose: async () => {
          await db.dropDatabase();
          await client.close();
        },
      };
    },
    { concurrentTakeoverSkipReason: skipReason },
  );
});

describeMongo('MongoProjectionLease on the server clock (MONGODB_URL)', () => {
  it('times leases by hello.localTime, whatever this host says', async () => {
    const client = await MongoClient.connect(url!);
    const db = client.db(`lease_clock_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
    try {
      const a = new MongoProjectionLease({ db, projectionName: 'wallet_v1' });
      const b = new MongoProjectionLease({ db, projectionName: 'wallet_v1' });
      const before = Date.now();
      expect(await a.tryAcquire('a', 60_000)).toBe(true);
      expect(await b.tryAcquire('b', 60_000)).toBe(false);
      const doc = await db.collection('projection_leases').findOne({ _id: 'wallet_v1' as never });
      // Expiry = server time + TTL; here the server runs on this host, so it is close to ours.
      expect(Math.abs(Number(doc?.expiresAtMs) - (before + 60_000))).toBeLessThan(5_000);
    } finally {
      await db.dropDatabase();
      await client.close();
    }
  });
});
