import {
  ANY,
  BACKWARDS,
  END,
  StreamNotFoundError,
  type AppendToStreamOptions,
  type ReadStreamOptions,
} from '@kurrent/kurrentdb-client';
import { SNAPSHOT_STATE_BYTES_MAX, type StreamSnapshot } from '../snapshot-store.port.js';
import {
  EventStoreDbSnapshotStore,
  SNAPSHOT_EVENT_TYPE,
  fromEsdbSnapshotEvent,
  snapshotStreamOf,
  toEsdbSnapshotEvent,
  type EsdbSnapshotClient,
} from './eventstoredb-snapshots.js';

/*
 * The EventStoreDB snapshot mapping only: no server runs here (see eventstoredb-contract.spec.ts),
 * and the shared snapshot contract runs against a real one when EVENTSTORE_URL is set.
 */

const snapshot: StreamSnapshot = {
  streamId: 'wallet-cus_1',
  revision: 41,
  stateVersion: 2,
  state: { version: 42, names: ['é', 'ü'] },
};

/** What the client hands back for a stored event: the same type, binary, the bytes written. */
function asRead(event: ReturnType<typeof toEsdbSnapshotEvent>) {
  return { type: event.type, isJson: false, data: event.data };
}

async function* page<T>(items: readonly T[], error?: Error): AsyncGenerator<T> {
  yield* items;
  if (error !== undefined) throw error;
}

describe('EventStoreDB snapshot mapping', () => {
  it('names the snapshot stream after the stream, outside the reserved $ prefix and the wallet- prefix', () => {
    expect(snapshotStreamOf('wallet-cus_1')).toBe('snapshot-wallet-cus_1');
  });

  it('writes a binary event (so readAll and subscriptions never pass it on) that reads back as the same snapshot', () => {
    const event = toEsdbSnapshotEvent(snapshot, '0b7e2d0e-6a57-4b39-9f4b-8e7a3f7d1c2a');
    expect(event.type).toBe(SNAPSHOT_EVENT_TYPE);
    expect(event.contentType).toBe('application/octet-stream');
    expect(event.id).toBe('0b7e2d0e-6a57-4b39-9f4b-8e7a3f7d1c2a');
    expect(fromEsdbSnapshotEvent('wallet-cus_1', asRead(event))).toEqual(snapshot);
  });

  it('reads nothing from another stream’s snapshot, a JSON event, another type, or unreadable bytes', () => {
    const event = asRead(toEsdbSnapshotEvent(snapshot));
    expect(fromEsdbSnapshotEvent('wallet-cus_2', event)).toBeNull();
    expect(fromEsdbSnapshotEvent('wallet-cus_1', { ...event, isJson: true })).toBeNull();
    expect(fromEsdbSnapshotEvent('wallet-cus_1', { ...event, type: 'WalletCredited' })).toBeNull();
    expect(fromEsdbSnapshotEvent('wallet-cus_1', { ...event, data: Buffer.from('{"streamId":') })).toBeNull();
    const noRevision = Buffer.from(JSON.stringify({ streamId: 'wallet-cus_1', revision: 'x', stateVersion: 2, state: {} }));
    expect(fromEsdbSnapshotEvent('wallet-cus_1', { ...event, data: noRevision })).toBeNull();
    expect(fromEsdbSnapshotEvent('wallet-cus_1', undefined)).toBeNull();
  });

  it('refuses a state over SNAPSHOT_STATE_BYTES_MAX before anything is sent', () => {
    expect(() => toEsdbSnapshotEvent({ ...snapshot, state: 'x'.repeat(SNAPSHOT_STATE_BYTES_MAX) })).toThrow(RangeError);
  });

  describe('EventStoreDbSnapshotStore on a stub client', () => {
    function stub(read: () => AsyncIterable<unknown>, nextExpectedRevision: bigint) {
      const calls = {
        reads: [] as Array<{ stream: string; options?: ReadStreamOptions }>,
        appends: [] as Array<{ stream: string; options?: AppendToStreamOptions }>,
        metadata: [] as Array<{ stream: string; metadata: unknown }>,
      };
      const client = {
        readStream: (stream: string, options?: ReadStreamOptions) => {
          calls.reads.push({ stream, options });
          return read();
        },
        appendToStream: async (stream: string, _events: unknown, options?: AppendToStreamOptions) => {
          calls.appends.push({ stream, options });
          return { success: true, nextExpectedRevision, position: undefined };
        },
        setStreamMetadata: async (stream: string, metadata: unknown) => {
          calls.metadata.push({ stream, metadata });
          return { success: true, nextExpectedRevision: 0n, position: undefined };
        },
      };
      return { client: client as unknown as EsdbSnapshotClient, calls };
    }

    it('reads the last event of the snapshot stream, backwards from the end; a missing stream is no snapshot', async () => {
      const stored = stub(() => page([{ event: asRead(toEsdbSnapshotEvent(snapshot)) }]), 0n);
      expect(await new EventStoreDbSnapshotStore(stored.client, 1000).readSnapshot('wallet-cus_1')).toEqual(snapshot);
      expect(stored.calls.reads[0]).toMatchObject({
        stream: 'snapshot-wallet-cus_1',
        options: { direction: BACKWARDS, fromRevision: END, maxCount: 1n },
      });
      const missing = stub(() => page([], new StreamNotFoundError(undefined, 'snapshot-wallet-cus_1')), 0n);
      expect(await new EventStoreDbSnapshotStore(missing.client, 1000).readSnapshot('wallet-cus_1')).toBeNull();
    });

    it('appends with ANY, and limits the snapshot stream to its last event when the first one is written', async () => {
      const first = stub(() => page([]), 0n);
      await new EventStoreDbSnapshotStore(first.client, 1000).writeSnapshot(snapshot);
      expect(first.calls.appends).toEqual([{ stream: 'snapshot-wallet-cus_1', options: { streamState: ANY } }]);
      expect(first.calls.metadata).toEqual([{ stream: 'snapshot-wallet-cus_1', metadata: { maxCount: 1 } }]);
      const later = stub(() => page([]), 7n);
      await new EventStoreDbSnapshotStore(later.client, 1000).writeSnapshot(snapshot);
      expect(later.calls.metadata).toEqual([]);
    });
  });
});
