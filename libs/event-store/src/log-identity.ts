import type { EventStore } from './event-store.port.js';

/**
 * A checkpoint is a position in one particular log. Switching backends, or wiping the
 * event store's volume, leaves read models with a checkpoint that means nothing in the new
 * log: resuming from it would skip events silently (or, on EventStoreDB, fail on an invalid
 * position). So read models record which log they were built from, and a projector checks
 * both facts before it resumes.
 */
export class CheckpointNotInLogError extends Error {
  constructor(message: string) {
    super(`${message}. Refusing to project: rebuild the read models from this log (ledger projections rebuild), or point the app at the log they came from.`);
    this.name = 'CheckpointNotInLogError';
  }
}

/**
 * The identity of a log: its first non-system event, by id and position. Null for an
 * empty log. The same on every read of one log; different after a wipe or on another backend.
 */
export async function logIdentityOf(store: Pick<EventStore, 'readAll'>): Promise<string | null> {
  const [first] = await store.readAll({ after: null, maxCount: 1 });
  return first === undefined ? null : `${first.eventId}@${first.position}`;
}

/** What the check needs of the read models: the checkpoint and the recorded identity. */
export interface CheckpointedReadModels {
  logIdentity?(): Promise<string | null>;
  recordLogIdentity?(identity: string): Promise<void>;
}

/**
 * Refuses a checkpoint beyond the log's head, or read models recorded from another log;
 * records this log's identity on read models that have none yet (new, or from before
 * identities were recorded). Read models without identity support are only head-checked.
 */
export async function checkLogIdentity(
  store: Pick<EventStore, 'readAll' | 'headPosition'>,
  readModels: CheckpointedReadModels,
  checkpoint: number | null,
): Promise<void> {
  if (checkpoint !== null && store.headPosition !== undefined) {
    const head = await store.headPosition();
    if (head === null || checkpoint > head) {
      throw new CheckpointNotInLogError(`the read models' checkpoint ${checkpoint} is beyond the end of the log (${head ?? 'empty'})`);
    }
  }
  if (readModels.logIdentity === undefined) return;
  const [recorded, actual] = await Promise.all([readModels.logIdentity(), logIdentityOf(store)]);
  if (recorded !== null && actual !== recorded) {
    throw new CheckpointNotInLogError(`the read models were built from the log starting with ${recorded}, but this log starts with ${actual ?? 'nothing'}`);
  }
  if (recorded === null && actual !== null) await readModels.recordLogIdentity?.(actual);
}
