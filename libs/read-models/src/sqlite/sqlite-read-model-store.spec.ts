import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelContract } from '../read-model.contract.js';
import { SqliteReadModelStore } from './sqlite-read-model-store.js';

readModelContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rm-contract-'));
  const store = new SqliteReadModelStore({ filename: join(dir, 'read-models.sqlite'), busyTimeoutMs: 5000 });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
