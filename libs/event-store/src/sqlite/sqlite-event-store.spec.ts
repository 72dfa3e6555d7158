import Database from 'better-sqlite3';
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

describe('SqliteEventStore key index', () => {
  const keyed = (eventId: string, key: string) => ({ eventId, type: 'A', schemaVersion: 1, data: {}, metadata: {}, indexKey: key });

  it('keeps keys across close and reopen, and indexes from the start of a log created with the index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-keys-'));
    const file = join(dir, 'events.sqlite');
    const first = openStore(file);
    expect(first.indexedSinceMs).toBe(0);
    await first.append('s-1', 'no_stream', [keyed('e1', 'k-1')]);
    await first.close();
    const second = openStore(file);
    expect(second.indexedSinceMs).toBe(0);
    expect((await second.findKey('s-1', 'k-1'))?.revision).toBe(0);
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on a log written before the index existed, says the index starts when it was added', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-keys-old-'));
    const file = join(dir, 'events.sqlite');
    const old = openStore(file);
    await old.append('s-1', 'no_stream', [keyed('e1', 'k-1')]);
    await old.close();
    // What a log from before the key index looks like: events, no key table, no record of when it started.
    const db = new Database(file);
    db.exec('DROP TABLE stream_keys; DROP TABLE store_meta;');
    db.close();
    const beforeMs = Date.now();
    const upgraded = openStore(file);
    expect(upgraded.indexedSinceMs).toBeGreaterThanOrEqual(beforeMs);
    expect(await upgraded.findKey('s-1', 'k-1')).toBeNull();
    await upgraded.close();
    // Recorded once: a later open keeps the first answer.
    const again = openStore(file);
    expect(again.indexedSinceMs).toBe(upgraded.indexedSinceMs);
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forgets keys older than keyRetentionMs on its own, after a commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-keys-forget-'));
    const clock = { nowMs: Date.parse('2026-01-01T00:00:00Z') };
    const store = new SqliteEventStore({
      filename: join(dir, 'events.sqlite'),
      groupCommitMax: 256,
      idlePollMs: 50,
      busyTimeoutMs: 5000,
      clock: () => new Date(clock.nowMs),
      keyRetentionMs: 24 * 3_600_000,
    });
    await store.append('s-1', 'no_stream', [keyed('e1', 'old')]);
    clock.nowMs += 24 * 3_600_000 - 1;
    await store.append('s-1', 0, [keyed('e2', 'young')]);
    expect(await store.findKey('s-1', 'old')).not.toBeNull();
    // Past old's retention, and a minute after the last pass (passes are at most once a minute).
    clock.nowMs += 60_000;
    await store.append('s-1', 1, [keyed('e3', 'new')]);
    expect(await store.findKey('s-1', 'old')).toBeNull();
    expect(await store.findKey('s-1', 'young')).not.toBeNull();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
