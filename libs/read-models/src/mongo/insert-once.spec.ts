import { randomUUID } from 'node:crypto';
import { MongoBulkWriteError, MongoClient, MongoNetworkError, type Collection } from 'mongodb';
import { insertOnce, UnexpectedDuplicateError } from './insert-once.js';

interface Doc {
  _id: string;
  owner: string;
  seq: number;
}

/** A collection whose `insertMany` fails with `error`, and that reads back `stored` ids. */
function failingCollection(error: unknown, stored: string[] = []): Collection<Doc> {
  return {
    collectionName: 'stub',
    insertMany: async () => {
      throw error;
    },
    countDocuments: async (filter: { _id: { $in: string[] } }) => filter._id.$in.filter((id) => stored.includes(id)).length,
  } as unknown as Collection<Doc>;
}

/** What the driver's bulk write reports; only the fields `insertOnce` reads. */
function bulkResult(insertedCount: number, writeConcernError?: { code: number; errmsg: string }) {
  return { insertedCount, getWriteConcernError: () => writeConcernError } as never;
}

const docs: Doc[] = [
  { _id: 'a', owner: 'o', seq: 1 },
  { _id: 'b', owner: 'o', seq: 2 },
];

describe('insertOnce', () => {
  it('throws when the driver wraps a network error, which has no write errors at all', async () => {
    // The driver turns any error mid-insertMany into a MongoBulkWriteError with `writeErrors: []`.
    const error = new MongoBulkWriteError(new MongoNetworkError('read ECONNRESET'), bulkResult(0));
    expect(error.writeErrors).toEqual([]);
    await expect(insertOnce(failingCollection(error), docs)).rejects.toBe(error);
  });

  it('throws on a write-concern error even when every document collided', async () => {
    const wce = { code: 64, errmsg: 'waiting for replication timed out' };
    const error = new MongoBulkWriteError(
      { message: 'dup', code: 11000, writeErrors: docs.map((_, index) => ({ index, code: 11000, errmsg: 'E11000' })) } as never,
      bulkResult(0, wce),
    );
    await expect(insertOnce(failingCollection(error, ['a', 'b']), docs)).rejects.toBe(error);
  });

  it('throws when some documents were neither inserted nor reported', async () => {
    const error = new MongoBulkWriteError(
      { message: 'dup', code: 11000, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000' }] } as never,
      bulkResult(0),
    );
    await expect(insertOnce(failingCollection(error, ['a']), docs)).rejects.toBe(error);
  });

  it('throws when MongoDB names another unique index than _id', async () => {
    const error = new MongoBulkWriteError(
      {
        message: 'dup',
        code: 11000,
        writeErrors: [{ index: 1, code: 11000, errmsg: 'E11000 duplicate key error collection: db.c index: owner_seq dup key: { }' }],
      } as never,
      bulkResult(1),
    );
    await expect(insertOnce(failingCollection(error, ['b']), docs)).rejects.toThrow(UnexpectedDuplicateError);
  });

  it('accepts collisions on _id of stored documents', async () => {
    const error = new MongoBulkWriteError(
      {
        message: 'dup',
        code: 11000,
        writeErrors: [{ index: 1, code: 11000, errmsg: 'E11000 duplicate key error collection: db.c index: _id_ dup key: { }' }],
      } as never,
      bulkResult(1),
    );
    await expect(insertOnce(failingCollection(error, ['b']), docs)).resolves.toBeUndefined();
  });
});

const url = process.env.MONGODB_URL;
// Needs a MongoDB wire-protocol server; without MONGODB_URL these are reported as skipped.
const describeMongo = url ? describe : describe.skip;

describeMongo('insertOnce on a server (MONGODB_URL)', () => {
  let client: MongoClient;
  let collection: Collection<Doc>;

  beforeAll(async () => {
    client = await new MongoClient(url!).connect();
    collection = client.db(`insert_once_${randomUUID().replaceAll('-', '').slice(0, 12)}`).collection<Doc>('docs');
    await collection.createIndex({ owner: 1, seq: 1 }, { name: 'owner_seq', unique: true });
  });
  afterAll(async () => {
    await collection?.db.dropDatabase();
    await client?.close();
  });

  it('ignores a replay that collides on _id, and surfaces a clash on the sequence index', async () => {
    await insertOnce(collection, docs);
    await insertOnce(collection, [...docs, { _id: 'c', owner: 'o', seq: 3 }]);
    expect(await collection.countDocuments({})).toBe(3);
    // A new document numbered like an existing one: a sequence bug, not a replay.
    await expect(insertOnce(collection, [{ _id: 'd', owner: 'o', seq: 2 }])).rejects.toThrow(UnexpectedDuplicateError);
    expect(await collection.countDocuments({ _id: 'd' })).toBe(0);
  });
});
