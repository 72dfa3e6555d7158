import type { EventStore } from './event-store.port.js';

/**
 * A stored fold of one stream up to a revision, so a cold load reads only what follows it.
 * The store knows nothing of what `state` means: it is JSON produced and read by the layer
 * that owns the fold (for wallets, `libs/ledger`).
 */
export interface StreamSnapshot {
  readonly streamId: string;
  /** Revision of the last event folded into `state`. */
  readonly revision: number;
  /** Version of the fold that produced `state`; a reader with another version ignores it. */
  readonly stateVersion: number;
  /** JSON-serialisable. */
  readonly state: unknown;
}

/**
 * One snapshot per stream; writing replaces it. A snapshot is only an optimisation: losing one,
 * or reading a stale one, costs a longer fold, never a wrong state (see `readTrustedSnapshot`).
 */
export interface SnapshotStore {
  /** The stream's snapshot, or null when it has none. */
  readSnapshot(streamId: string): Promise<StreamSnapshot | null>;
  /** Replaces the stream's snapshot; throws RangeError when the state exceeds `SNAPSHOT_STATE_BYTES_MAX`. */
  writeSnapshot(snapshot: StreamSnapshot): Promise<void>;
}

/**
 * Largest serialised state a snapshot may hold. EventStoreDB refuses events above 16 MiB by
 * default, and a bigger state would hold the event loop for a long time while it is
 * serialised; such a stream is folded from its last smaller snapshot instead.
 */
export const SNAPSHOT_STATE_BYTES_MAX = 16 * 1024 * 1024;

/** The JSON text of a snapshot's state, or RangeError when it is over the limit. */
export function serialiseSnapshotState(snapshot: StreamSnapshot): string {
  const text = JSON.stringify(snapshot.state);
  // UTF-16 length is a lower bound of the UTF-8 byte length: the cheap check first.
  if (text.length > SNAPSHOT_STATE_BYTES_MAX || Buffer.byteLength(text) > SNAPSHOT_STATE_BYTES_MAX) {
    throw new RangeError(`snapshot of ${snapshot.streamId} is larger than ${SNAPSHOT_STATE_BYTES_MAX} bytes`);
  }
  return text;
}

/**
 * The snapshot a load may start from, with the global position of its last event, or null.
 * Never trusted over the stream: a snapshot written by another fold version is ignored, and so
 * is one whose revision the stream does not hold (beyond its head, e.g. after the log was
 * restored from an older backup). A snapshot behind the head is fine: the caller folds the
 * events after `revision`.
 */
export async function readTrustedSnapshot(
  store: EventStore,
  streamId: string,
  stateVersion: number,
): Promise<{ readonly snapshot: StreamSnapshot; readonly position: number } | null> {
  const snapshots = store.snapshots;
  if (snapshots === undefined) return null;
  const snapshot = await snapshots.readSnapshot(streamId);
  if (snapshot === null || snapshot.stateVersion !== stateVersion || snapshot.streamId !== streamId) return null;
  if (!Number.isSafeInteger(snapshot.revision) || snapshot.revision < 0) return null;
  const [last] = await store.readStream(streamId, { fromRevision: snapshot.revision, maxCount: 1 });
  if (last === undefined || last.revision !== snapshot.revision) return null;
  return { snapshot, position: last.position };
}
