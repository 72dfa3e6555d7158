import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';

const DUPLICATE_KEY = 11000;
const ID_INDEX = '_id_';

/** A duplicate on some other unique index than `_id`: sequence numbers clashed, which is a bug, not a replay. */
export class UnexpectedDuplicateError extends Error {
  constructor(collection: string, detail: string, options?: { cause?: unknown }) {
    super(`${collection}: insert collided on something other than _id (${detail}); a replay only ever collides on _id`, options);
    this.name = 'UnexpectedDuplicateError';
  }
}

/**
 * Inserts documents that are written once, keyed by their `_id` (entries, wallet openings,
 * customer creations). A replayed batch collides on the `_id`s it already wrote, and those
 * collisions are the no-op we want. Inserts are also far cheaper than upserts, and
 * FerretDB 1.24 was seen to hang on `$setOnInsert` upserts of existing documents.
 *
 * Accepted only when every document was either inserted or collided on `_id`, and no
 * write-concern error was reported. Everything else throws so the batch is retried: a
 * network, server-selection or timeout error is also a `MongoBulkWriteError`, with no
 * `writeErrors` at all, and treating it as "all duplicates" would let the checkpoint move
 * past documents that were never written.
 */
export async function insertOnce<T extends Document & { _id: unknown }>(
  collection: Collection<T>,
  docs: readonly T[],
): Promise<void> {
  if (docs.length === 0) return;
  try {
    await collection.insertMany(docs as never, { ordered: false });
  } catch (error) {
    const duplicateIds = duplicateIdsOnly(error, docs, collection.collectionName);
    if (duplicateIds === null) throw error;
    await confirmIdsExist(collection, duplicateIds, error);
  }
}

/**
 * The `_id`s of the documents that collided, when the error is nothing but duplicate-key
 * collisions accounting for every document not inserted; `null` otherwise.
 */
function duplicateIdsOnly(error: unknown, docs: readonly Document[], collection: string): unknown[] | null {
  if (!(error instanceof MongoBulkWriteError)) return null;
  if (hasWriteConcernError(error)) return null;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.length === 0) return null;
  if (!writeErrors.every((e) => e.code === DUPLICATE_KEY)) return null;
  if (error.insertedCount + writeErrors.length !== docs.length) return null;
  for (const e of writeErrors) {
    const index = duplicateIndexName(e.errmsg, e.err as unknown as Record<string, unknown>);
    if (index !== null && index !== ID_INDEX) {
      throw new UnexpectedDuplicateError(collection, `index ${index}: ${e.errmsg ?? ''}`, { cause: error });
    }
  }
  return writeErrors.map((e) => docs[e.index]?._id);
}

function hasWriteConcernError(error: MongoBulkWriteError): boolean {
  const result = error.result as { getWriteConcernError?: () => unknown } | undefined;
  return (result?.getWriteConcernError?.() ?? undefined) !== undefined || error.errorResponse?.writeConcernError !== undefined;
}

/**
 * The unique index a duplicate-key error names: MongoDB gives `keyPattern` and
 * `index: <name>` in the message; FerretDB 1.x gives neither (null), in which case
 * `confirmIdsExist` settles it by reading.
 */
function duplicateIndexName(errmsg: string | undefined, raw: Record<string, unknown> | undefined): string | null {
  const keyPattern = raw?.keyPattern;
  if (keyPattern !== null && typeof keyPattern === 'object') {
    const keys = Object.keys(keyPattern);
    return keys.length === 1 && keys[0] === '_id' ? ID_INDEX : keys.join('_');
  }
  const named = /\bindex: (\S+)/.exec(errmsg ?? '');
  return named === null ? null : named[1];
}

/**
 * A collision only counts as a replay when a document with that `_id` is stored: if none
 * is, the insert collided on another unique index (a sequence number), whatever the
 * server said.
 */
async function confirmIdsExist<T extends Document>(collection: Collection<T>, ids: unknown[], cause: unknown): Promise<void> {
  const found = await collection.countDocuments({ _id: { $in: ids } } as never);
  if (found !== new Set(ids.map(String)).size) {
    throw new UnexpectedDuplicateError(
      collection.collectionName,
      `${ids.length - found} of ${ids.length} colliding documents have no stored _id`,
      { cause },
    );
  }
}
