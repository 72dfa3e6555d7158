import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from '../event-store.contract.js';
import { SqliteEventStore } from './sqlite-event-store.js';

function openStore(filename: string) {
  return new SqliteEventStore({ filename, groupCommitMax: 256, idlePollMs: 50, busyTimeoutMs: 5000, clock: () => new Date() });
}

eventStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'es-contract-'));
  const store = openStore(join(dir, 'events.sqlite'));
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteEventStore durability', () => {
  it('keeps events across close and reopen of the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-reopen-'));
    const file = join(dir, 'events.sqlite');
    const first = openStore(file);
    await first.append('s-1', 'no_stream', [{ eventId: 'e1', type: 'A', schemaVersion: 1, data: { x: 1 }, metadata: {} }]);
    await first.close();
    const second = openStore(file);
    const events = await second.readStream('s-1', { fromRevision: 0, maxCount: 10 });
    expect(events.map((e) => [e.eventId, e.data])).toEqual([['e1', { x: 1 }]]);
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
