import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectionLeaseContract } from '../projection-lease.contract.js';
import { SqliteProjectionLease } from './sqlite-projection-lease.js';

projectionLeaseContract('sqlite', async (clock) => {
  const dir = mkdtempSync(join(tmpdir(), 'lease-contract-'));
  const opened: SqliteProjectionLease[] = [];
  return {
    // Each handle opens its own connection to the shared file, as another process would.
    lease: async () => {
      const lease = new SqliteProjectionLease({
        filename: join(dir, 'read-models.sqlite'),
        projectionName: 'wallet_v1',
        busyTimeoutMs: 5000,
        clock,
      });
      opened.push(lease);
      return lease;
    },
    dispose: async () => {
      await Promise.all(opened.map((lease) => lease.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
