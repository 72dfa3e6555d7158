import {
  Long,
  MongoClient,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
import type { RecordedEvent } from '#event-store';
import {
  WALLET_PROJECTION,
  type CustomerQuery,
  type CustomerView,
  type LedgerEntryQuery,
  type LedgerEntryView,
  type ReadModelStore,
  type WalletView,
} from '../read-model.port.js';
import { projectEvent, type ProjectionOp } from '../wallet-projection.js';
import { insertOnce } from './insert-once.js';
import {
  businessWrites,
  customerAdvanceWrites,
  customerIdOf,
  planBatch,
  walletBalanceWrites,
  type BatchPlan,
  type LoadedCustomer,
} from './mongo-batch-plan.js';
import { mongoClientOptions } from './mongo-client-options.js';
import {
  collectionsFor,
  createIndexes,
  safe,
  toCustomer,
  toEntry,
  toNumber,
  toWallet,
  type Collections,
} from './mongo-documents.js';

export interface MongoReadModelOptions {
  readonly url: string;
  readonly dbName: string;
  /** Defaults to the current `WALLET_PROJECTION.version`; collection names carry it. */
  readonly projectionVersion?: number;
  /** Merged over `mongoClientOptions()` (write concern, timeouts, pool size). */
  readonly clientOptions?: MongoClientOptions;
}

const DUPLICATE_KEY = 11000;

/** The stored checkpoint is behind one this store already saw: the server lost acknowledged writes. */
export class CheckpointWentBackwardsError extends Error {
  constructor(projectionName: string, seen: number, stored: number | null) {
    super(
      `${projectionName}: checkpoint went back from ${seen} to ${String(stored)}; the read models lost acknowledged ` +
        'writes (a rollback after a failover?). Refusing to project on top of them: audit and rebuild.',
    );
    this.name = 'CheckpointWentBackwardsError';
  }
}

/**
 * Read models in MongoDB (also run against FerretDB in tests). Collection names carry
 * the projection version. Like the SQLite adapter, ledger entries carry dense
 * per-customer and per-currency sequence numbers so that page N is a range seek.
 *
 * There are no multi-document transactions (FerretDB has none), so `applyEvents`
 * orders its writes so that a crash at any point is repaired by re-applying the batch:
 * see `writePlan`.
 */
export class MongoReadModelStore implements ReadModelStore {
  /** The highest checkpoint this store has read or written; the stored one must never be below it. */
  private highestCheckpointSeen: number | null = null;

  private constructor(
    private readonly client: MongoClient,
    readonly db: Db,
    private readonly c: Collections,
    readonly projectionName: string,
    /** False when the client is shared (see `attach`): closing the store leaves it open. */
    private readonly ownsClient = true,
  ) {}

  /**
   * One version of the projection on a client the caller owns and shares between versions
   * (the projection registry and blue/green rebuilds open several at once).
   */
  static async attach(client: MongoClient, db: Db, projectionVersion: number): Promise<MongoReadModelStore> {
    const projectionName = `${WALLET_PROJECTION.name}_v${projectionVersion}`;
    const collections = collectionsFor(db, projectionName);
    await createIndexes(collections);
    return new MongoReadModelStore(client, db, collections, projectionName, false);
  }

  static async connect(options: MongoReadModelOptions): Promise<MongoReadModelStore> {
    const client = new MongoClient(options.url, { ...mongoClientOptions(), ...options.clientOptions });
    await client.connect();
    try {
      const db = client.db(options.dbName);
      const projectionName = `${WALLET_PROJECTION.name}_v${options.projectionVersion ?? WALLET_PROJECTION.version}`;
      const collections = collectionsFor(db, projectionName);
      await createIndexes(collections);
      return new MongoReadModelStore(client, db, collections, projectionName);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  async applyEvents(events: readonly RecordedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const stored = await this.checkpoint();
    // Our checkpoint writes are `$max`: a lower one means the server lost acknowledged writes.
    if (this.highestCheckpointSeen !== null && (stored === null || stored < this.highestCheckpointSeen)) {
      throw new CheckpointWentBackwardsError(this.projectionName, this.highestCheckpointSeen, stored);
    }
    const checkpoint = stored ?? 0;
    const fresh = events.filter((event) => event.position > checkpoint);
    if (fresh.length === 0) return;
    const ops = fresh.map(projectEvent);
    // Counters before customers: writePlan writes customers before counters, so a customer
    // another projector wrote meanwhile is either counted already or seen by the later read
    // (read the other way round, a concurrent batch could push a counter past its customers).
    const businessCounts = await this.loadBusinessCounts(ops);
    const plan = planBatch(ops, await this.loadCustomers(ops), businessCounts);
    await this.writePlan(plan);
    const last = safe(fresh[fresh.length - 1].position, 'position');
    // $max: a projector that lost its lease and finishes late cannot move the checkpoint back.
    await this.c.checkpoints.updateOne({ _id: this.projectionName }, { $max: { position: Long.fromNumber(last) } }, { upsert: true });
    this.highestCheckpointSeen = Math.max(this.highestCheckpointSeen ?? 0, last);
  }

  async checkpoint(): Promise<number | null> {
    const doc = await this.c.checkpoints.findOne({ _id: this.projectionName });
    const position = doc === null ? null : toNumber(doc.position);
    if (position !== null && (this.highestCheckpointSeen === null || position > this.highestCheckpointSeen)) {
      this.highestCheckpointSeen = position;
    }
    return position;
  }

  async logIdentity(): Promise<string | null> {
    const doc = await this.c.logIdentities.findOne({ _id: this.projectionName });
    return doc?.logIdentity ?? null;
  }

  async recordLogIdentity(identity: string): Promise<void> {
    try {
      await this.c.logIdentities.insertOne({ _id: this.projectionName, logIdentity: identity });
    } catch (error) {
      // First one wins: the identity these read models were built from stays.
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
  }

  async findCustomer(businessId: string, customerId: string): Promise<CustomerView | null> {
    const doc = await this.c.customers.findOne({ _id: customerId });
    return doc !== null && doc.businessId === businessId ? toCustomer(doc) : null;
  }

  async listCustomers(businessId: string, query: CustomerQuery): Promise<CustomerView[]> {
    if (query.pageSize <= 0) return [];
    if (query.email !== undefined) {
      const cursor = this.c.customers
        .find({ businessId, email: query.email })
        .sort({ businessSeq: -1 })
        .skip(query.pageNumber * query.pageSize)
        .limit(query.pageSize);
      return (await cursor.toArray()).map(toCustomer);
    }
    const business = await this.c.businesses.findOne({ _id: businessId });
    const range = pageRange(business?.customerCount ?? 0, query);
    if (range === null) return [];
    const docs = await this.c.customers
      .find({ businessId, businessSeq: range })
      .sort({ businessSeq: -1 })
      .limit(query.pageSize)
      .toArray();
    return docs.map(toCustomer);
  }

  async listWallets(customerId: string): Promise<WalletView[]> {
    const docs = await this.c.wallets.find({ customerId }).sort({ currency: 1 }).toArray();
    return docs.map(toWallet);
  }

  async listLedgerEntries(customerId: string, query: LedgerEntryQuery): Promise<LedgerEntryView[]> {
    if (query.pageSize <= 0) return [];
    const customer = await this.c.customers.findOne({ _id: customerId }, { projection: { entryCount: 1, entryCounts: 1 } });
    if (customer === null) return [];
    const byCurrency = query.currency !== undefined;
    const count = byCurrency ? (customer.entryCounts?.[query.currency!] ?? 0) : customer.entryCount;
    const range = pageRange(count, query);
    if (range === null) return [];
    const seqField = byCurrency ? 'currencySeq' : 'customerSeq';
    const filter = byCurrency ? { customerId, currency: query.currency, currencySeq: range } : { customerId, customerSeq: range };
    const docs = await this.c.entries
      .find(filter)
      .sort({ [seqField]: -1 })
      .limit(query.pageSize)
      .toArray();
    return docs.map(toEntry);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  /** Drops this version's collections and checkpoint (an old version after a rebuild switched away from it). */
  async drop(): Promise<void> {
    // Driver 6+ treats dropping a collection that does not exist as success.
    for (const collection of [this.c.entries, this.c.wallets, this.c.customers, this.c.businesses]) await collection.drop();
    await this.c.checkpoints.deleteOne({ _id: this.projectionName });
    await this.c.logIdentities.deleteOne({ _id: this.projectionName });
    this.highestCheckpointSeen = null;
  }

  /** One query for every customer the batch touches. */
  private async loadCustomers(ops: readonly ProjectionOp[]): Promise<LoadedCustomer[]> {
    const ids = [...new Set(ops.map(customerIdOf))];
    return this.c.customers
      .find({ _id: { $in: ids } }, { projection: { revision: 1, entryCount: 1, entryCounts: 1, businessSeq: 1 } })
      .toArray();
  }

  private async loadBusinessCounts(ops: readonly ProjectionOp[]): Promise<Map<string, number>> {
    const ids = [...new Set(ops.flatMap((op) => (op.kind === 'customer.create' ? [op.customer.businessId] : [])))];
    if (ids.length === 0) return new Map();
    const docs = await this.c.businesses.find({ _id: { $in: ids } }).toArray();
    return new Map(docs.map((doc) => [doc._id, doc.customerCount]));
  }

  /**
   * Crash safety without transactions comes from the write order. Everything the batch
   * computes (sequence numbers, counters) derives from the customer and business docs as
   * loaded, and those are written last:
   *   1. entries: insert-only upserts keyed by entry id;
   *   2. wallets: insert-only open, then a balance `$set` guarded by `balanceRevision`;
   *   3. customers: insert-only create, then counters and profile guarded by `revision`;
   *   4. businesses: `$max` of the customer counter (also repaired from customers that
   *      step 3 already inserted, see `planBatch`; this order is why `applyEvents` reads
   *      the counters before the customers);
   *   5. the checkpoint (in `applyEvents`).
   * A crash before step 3 completes leaves the customer docs as loaded, so re-applying
   * the batch recomputes the same sequence numbers and rewrites identical docs (no-ops);
   * after step 3 the customers' revisions make their ops skip. Each ordered bulkWrite
   * stops at its first failure, so what it did write is a prefix of the batch.
   * Keyset pages are bounded by the counters of steps 3 and 4, so entries and customers
   * written ahead of those counters stay out of the pages until they are counted.
   */
  private async writePlan(plan: BatchPlan): Promise<void> {
    await insertOnce(this.c.entries, plan.entries);
    await insertOnce(this.c.wallets, [...plan.walletOpens.values()]);
    await bulkWrite(this.c.wallets, walletBalanceWrites(plan));
    await insertOnce(this.c.customers, plan.customerInserts);
    await bulkWrite(this.c.customers, customerAdvanceWrites(plan));
    await bulkWrite(this.c.businesses, businessWrites(plan));
  }
}

async function bulkWrite<T extends Document>(collection: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<void> {
  if (ops.length > 0) await collection.bulkWrite(ops, { ordered: true });
}

/** A 0-based page of a dense 1-based sequence, newest first: (count - (N+1)*size, count - N*size]. */
function pageRange(count: number, page: { pageNumber: number; pageSize: number }): { $gt: number; $lte: number } | null {
  const maxSeq = count - page.pageNumber * page.pageSize;
  return maxSeq <= 0 ? null : { $gt: maxSeq - page.pageSize, $lte: maxSeq };
}
