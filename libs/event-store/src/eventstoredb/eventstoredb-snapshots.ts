import { randomUUID } from 'node:crypto';
import { ANY, BACKWARDS, END, binaryEvent, type KurrentDBClient } from '@kurrent/kurrentdb-client';
import { serialiseSnapshotState, type SnapshotStore, type StreamSnapshot } from '../snapshot-store.port.js';
import { isStreamNotFound } from './eventstoredb-mappers.js';
import { drainWithin } from './eventstoredb-read-deadline.js';

/*
 * Snapshots on EventStoreDB: one stream per snapshotted stream, `snapshot-<streamId>` (the `$`
 * prefix is reserved for the server), whose last event is the snapshot. The event is binary
 * (UTF-8 JSON), so `readAll` and the subscriptions, which only pass JSON events on, never hand
 * a snapshot to the projector, an audit or a lag count. The stream gets `maxCount: 1` when its
 * first snapshot is written, so the server scavenges the older ones.
 */

export const SNAPSHOT_EVENT_TYPE = 'StreamSnapshot';
const SNAPSHOT_STREAM_PREFIX = 'snapshot-';

export type EsdbSnapshotClient = Pick<KurrentDBClient, 'appendToStream' | 'readStream' | 'setStreamMetadata'>;

export function snapshotStreamOf(streamId: string): string {
  return `${SNAPSHOT_STREAM_PREFIX}${streamId}`;
}

/** The binary event that stores `snapshot`; RangeError when its state is over the size limit. */
export function toEsdbSnapshotEvent(snapshot: StreamSnapshot, id: string = randomUUID()) {
  const state = serialiseSnapshotState(snapshot);
  // The state is spliced in as text: it was measured once and is not serialised a second time.
  const body = `{"streamId":${JSON.stringify(snapshot.streamId)},"revision":${snapshot.revision},"stateVersion":${snapshot.stateVersion},"state":${state}}`;
  return binaryEvent({ id, type: SNAPSHOT_EVENT_TYPE, data: Buffer.from(body, 'utf8') });
}

/** The snapshot a read event holds, or null when it is not one (wrong type, unreadable body, another stream's). */
export function fromEsdbSnapshotEvent(
  streamId: string,
  event: { readonly type: string; readonly isJson: boolean; readonly data: unknown } | undefined,
): StreamSnapshot | null {
  if (event === undefined || event.type !== SNAPSHOT_EVENT_TYPE || event.isJson || !(event.data instanceof Uint8Array))
    return null;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(event.data).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const { streamId: owner, revision, stateVersion, state } = body as Record<string, unknown>;
  if (owner !== streamId || !Number.isSafeInteger(revision) || !Number.isSafeInteger(stateVersion) || state === undefined)
    return null;
  return { streamId, revision: revision as number, stateVersion: stateVersion as number, state };
}

export class EventStoreDbSnapshotStore implements SnapshotStore {
  constructor(
    private readonly client: EsdbSnapshotClient,
    private readonly readDeadlineMs: number,
  ) {}

  async readSnapshot(streamId: string): Promise<StreamSnapshot | null> {
    try {
      const page = await drainWithin(
        this.client.readStream(snapshotStreamOf(streamId), {
          direction: BACKWARDS,
          fromRevision: END,
          maxCount: 1n,
          requiresLeader: true,
          deadline: this.readDeadlineMs,
        }),
        this.readDeadlineMs,
        `read the snapshot of ${streamId}`,
      );
      for (const resolved of page) return fromEsdbSnapshotEvent(streamId, resolved.event);
      return null;
    } catch (error) {
      if (isStreamNotFound(error)) return null;
      throw error;
    }
  }

  async writeSnapshot(snapshot: StreamSnapshot): Promise<void> {
    const stream = snapshotStreamOf(snapshot.streamId);
    // ANY: the newest write wins; an older one landing last only makes the next cold load fold more.
    const result = await this.client.appendToStream(stream, toEsdbSnapshotEvent(snapshot), { streamState: ANY });
    // On the first write, and again every so often: one failed metadata call must not leave the
    // stream keeping every snapshot for good (setting it again is harmless).
    if (result.nextExpectedRevision % SNAPSHOT_METADATA_EVERY_WRITES === 0n) await this.client.setStreamMetadata(stream, { maxCount: 1 });
  }
}

const SNAPSHOT_METADATA_EVERY_WRITES = 16n;
