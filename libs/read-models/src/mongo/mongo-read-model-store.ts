import {
  Long,
  MongoBulkWriteError,
  MongoClient,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
import type { RecordedEvent } from '../../../event-store/src/event-store.port.js';
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

export interface MongoReadModelOptions {
  readonly url: string;
  readonly dbName: string;
  /** Defaults to the current `WALLET_PROJECTION.version`; collection names carry it. */
  readonly projectionVersion?: number;
  readonly clientOptions?: MongoClientOptions;
}

/** Amounts and positions are written as int64 and read back as plain numbers (`promoteLongs`). */
type Int64 = number | Long;
type ProfileChanges = Extract<ProjectionOp, { kind: 'customer.update' }>['changes'];

/** Metadata keys are caller-chosen: as field names, `.` or `$` in them would clash with the query language. */
interface MetadataPair {
  key: string;
  value: string;
}

interface CustomerDoc {
  _id: string;
  businessId: string;
  email: string;
  name: string;
  phoneNumber: string | null;
  metadata: MetadataPair[];
  createdAt: string;
  /** Stream revision of the last event applied to this customer: the replay guard. */
  revision: number;
  /** Dense counters: the customer's newest entry has `customerSeq === entryCount`. */
  entryCount: number;
  entryCounts: Record<string, number>;
  businessSeq: number;
}

interface BusinessDoc {
  _id: string;
  /** Highest `businessSeq` handed out; customers above it are not listed yet. */
  customerCount: number;
}

interface WalletDoc {
  _id: string;
  customerId: string;
  currency: string;
  balanceMinor: Int64;
  createdAt: string;
  updatedAt: string;
  /** Stream revision of the entry that set `balanceMinor`; -1 before any entry. */
  balanceRevision: number;
}

interface EntryDoc {
  _id: string;
  customerId: string;
  businessId: string;
  currency: string;
  amountMinor: Int64;
  isCredit: boolean;
  beforeBalanceMinor: Int64;
  afterBalanceMinor: Int64;
  reason: string | null;
  createdAt: string;
  customerSeq: number;
  currencySeq: number;
  revision: number;
  /** Global position of the entry's event (read-model layout 2; absent from older documents). */
  eventPosition?: number;
}

interface CheckpointDoc {
  _id: string;
  position: Int64;
}

interface Collections {
  readonly customers: Collection<CustomerDoc>;
  readonly businesses: Collection<BusinessDoc>;
  readonly wallets: Collection<WalletDoc>;
  readonly entries: Collection<EntryDoc>;
  readonly checkpoints: Collection<CheckpointDoc>;
}

type LoadedCustomer = Pick<CustomerDoc, '_id' | 'revision' | 'entryCount' | 'entryCounts' | 'businessSeq'>;

/** A customer's counters as the batch moves them forward, starting from what was stored. */
interface CustomerCursor {
  revision: number;
  entryCount: number;
  entryCounts: Record<string, number>;
  changes: Partial<Pick<CustomerDoc, 'email' | 'name' | 'phoneNumber' | 'metadata'>>;
  /** Some op after the create moved it on: its counters need writing. */
  advanced: boolean;
}

/** Everything one batch writes, computed in memory before the first write. */
interface BatchPlan {
  readonly entries: EntryDoc[];
  readonly walletOpens: Map<string, WalletDoc>;
  readonly walletBalances: Map<string, Pick<WalletDoc, 'balanceMinor' | 'updatedAt' | 'balanceRevision'>>;
  readonly customerInserts: CustomerDoc[];
  readonly cursors: Map<string, CustomerCursor>;
  readonly storedBusinessCounts: ReadonlyMap<string, number>;
  /** Highest business sequence per business after the batch, for the `$max` on its counter. */
  readonly businessSeqs: Map<string, number>;
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
    const client = new MongoClient(options.url, {
      ...options.clientOptions,
      // int64 values within 2^53 come back as plain numbers; undefined fields are not written.
      promoteLongs: true,
      ignoreUndefined: true,
    });
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
    const checkpoint = (await this.checkpoint()) ?? 0;
    const fresh = events.filter((event) => event.position > checkpoint);
    if (fresh.length === 0) return;
    const ops = fresh.map(projectEvent);
    const plan = planBatch(ops, await this.loadCustomers(ops), await this.loadBusinessCounts(ops));
    await this.writePlan(plan);
    const position = Long.fromNumber(safe(fresh[fresh.length - 1].position, 'position'));
    // $max: a projector that lost its lease and finishes late cannot move the checkpoint back.
    await this.c.checkpoints.updateOne({ _id: this.projectionName }, { $max: { position } }, { upsert: true });
  }

  async checkpoint(): Promise<number | null> {
    const doc = await this.c.checkpoints.findOne({ _id: this.projectionName });
    return doc === null ? null : toNumber(doc.position);
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
    for (const collection of [this.c.entries, this.c.wallets, this.c.customers, this.c.businesses]) {
      await collection.drop().catch((error: unknown) => {
        // Dropping a collection that was never created is fine.
        if (!(error instanceof Error && /ns not found|NamespaceNotFound/i.test(error.message))) throw error;
      });
    }
    await this.c.checkpoints.deleteOne({ _id: this.projectionName });
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
   *      step 3 already inserted, see `planBatch`);
   *   5. the checkpoint (in `applyEvents`).
   * A crash before step 3 completes leaves the customer docs as loaded, so re-applying
   * the batch recomputes the same sequence numbers and rewrites identical docs (no-ops);
   * after step 3 the customers' revisions make their ops skip. Each ordered bulkWrite
   * stops at its first failure, so what it did write is a prefix of the batch.
   * Keyset pages are bounded by the counters of steps 3 and 4, so entries and customers
   * written ahead of those counters stay out of the pages until they are counted.
   */
  private async writePlan(plan: BatchPlan): Promise<void> {
    await insertIgnoringDuplicates(this.c.entries, plan.entries);
    await insertIgnoringDuplicates(this.c.wallets, [...plan.walletOpens.values()]);
    await bulkWrite(this.c.wallets, walletBalanceWrites(plan));
    await insertIgnoringDuplicates(this.c.customers, plan.customerInserts);
    await bulkWrite(this.c.customers, customerAdvanceWrites(plan));
    await bulkWrite(this.c.businesses, businessWrites(plan));
  }
}

function collectionsFor(db: Db, projectionName: string): Collections {
  return {
    customers: db.collection<CustomerDoc>(`${projectionName}_customers`),
    businesses: db.collection<BusinessDoc>(`${projectionName}_businesses`),
    wallets: db.collection<WalletDoc>(`${projectionName}_wallets`),
    entries: db.collection<EntryDoc>(`${projectionName}_entries`),
    checkpoints: db.collection<CheckpointDoc>('projection_checkpoints'),
  };
}

/**
 * Idempotent: creating an index that exists with the same keys and options is a no-op.
 * One index per command: FerretDB 1.24 panics when a multi-index createIndexes meets
 * indexes that already exist (every restart would).
 */
async function createIndexes(c: Collections): Promise<void> {
  await c.wallets.createIndex({ customerId: 1, currency: 1 }, { name: 'customer_currency', unique: true });
  await c.entries.createIndex({ customerId: 1, customerSeq: 1 }, { name: 'customer_seq', unique: true });
  await c.entries.createIndex({ customerId: 1, currency: 1, currencySeq: 1 }, { name: 'customer_currency_seq', unique: true });
  await c.customers.createIndex({ businessId: 1, businessSeq: 1 }, { name: 'business_seq', unique: true });
  await c.customers.createIndex({ businessId: 1, email: 1, businessSeq: 1 }, { name: 'business_email_seq' });
}

async function bulkWrite<T extends Document>(collection: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<void> {
  if (ops.length > 0) await collection.bulkWrite(ops, { ordered: true });
}

/**
 * Applies the ops to in-memory cursors started from the stored customers. Sequence
 * numbers depend only on the stored counters and the ops, so a re-applied batch gets
 * the same numbers as the first attempt.
 */
function planBatch(
  ops: readonly ProjectionOp[],
  loaded: readonly LoadedCustomer[],
  businessCounts: ReadonlyMap<string, number>,
): BatchPlan {
  const plan: BatchPlan = {
    entries: [],
    walletOpens: new Map(),
    walletBalances: new Map(),
    customerInserts: [],
    cursors: new Map(loaded.map((doc) => [doc._id, cursorFrom(doc)])),
    storedBusinessCounts: businessCounts,
    businessSeqs: new Map(businessCounts),
  };
  countExistingCustomers(plan, ops, loaded);
  for (const op of ops) planOp(plan, op);
  return plan;
}

/**
 * A crash between inserting customers (step 3) and bumping their business's counter
 * (step 4) leaves customers numbered above the counter. Their creates are in the
 * re-applied batch, so their numbers raise the counter before new customers are numbered.
 */
function countExistingCustomers(plan: BatchPlan, ops: readonly ProjectionOp[], loaded: readonly LoadedCustomer[]): void {
  const seqById = new Map(loaded.map((doc) => [doc._id, doc.businessSeq]));
  for (const op of ops) {
    if (op.kind !== 'customer.create') continue;
    const seq = seqById.get(op.customer.customerId);
    if (seq === undefined) continue;
    const businessId = op.customer.businessId;
    plan.businessSeqs.set(businessId, Math.max(plan.businessSeqs.get(businessId) ?? 0, seq));
  }
}

function cursorFrom(doc: LoadedCustomer): CustomerCursor {
  return {
    revision: doc.revision,
    entryCount: doc.entryCount,
    entryCounts: { ...doc.entryCounts },
    changes: {},
    advanced: false,
  };
}

function planOp(plan: BatchPlan, op: ProjectionOp): void {
  if (op.kind === 'customer.create') {
    planCreate(plan, op);
    return;
  }
  const cursor = plan.cursors.get(customerIdOf(op));
  // Guard: every doc of a customer comes from its own stream, so the stream revision orders them.
  if (cursor === undefined || op.revision <= cursor.revision) return;
  cursor.revision = op.revision;
  cursor.advanced = true;
  switch (op.kind) {
    case 'customer.update':
      Object.assign(cursor.changes, toDocChanges(op.changes));
      return;
    case 'wallet.open':
      planWalletOpen(plan, op.customerId, op.currency, op.openedAt);
      return;
    case 'entry.add':
      planEntry(plan, cursor, op.entry, op.revision);
      return;
  }
}

function planCreate(plan: BatchPlan, op: Extract<ProjectionOp, { kind: 'customer.create' }>): void {
  const c = op.customer;
  if (plan.cursors.has(c.customerId)) return;
  const businessSeq = (plan.businessSeqs.get(c.businessId) ?? 0) + 1;
  plan.businessSeqs.set(c.businessId, businessSeq);
  const { customerId, ...profile } = c;
  plan.customerInserts.push({
    _id: customerId,
    ...profile,
    metadata: toPairs(c.metadata),
    revision: op.revision,
    entryCount: 0,
    entryCounts: {},
    businessSeq,
  });
  plan.cursors.set(customerId, { revision: op.revision, entryCount: 0, entryCounts: {}, changes: {}, advanced: false });
}

function planWalletOpen(plan: BatchPlan, customerId: string, currency: string, openedAt: string): void {
  const id = walletId(customerId, currency);
  if (plan.walletOpens.has(id)) return;
  plan.walletOpens.set(id, {
    _id: id,
    customerId,
    currency,
    balanceMinor: Long.ZERO,
    createdAt: openedAt,
    updatedAt: openedAt,
    balanceRevision: -1,
  });
}

function planEntry(plan: BatchPlan, cursor: CustomerCursor, e: LedgerEntryView, revision: number): void {
  // As in the SQLite adapter, an entry for a wallet never opened opens it. A currency that
  // already has entries has its wallet: skip the (no-op) insert.
  if ((cursor.entryCounts[e.currency] ?? 0) === 0) planWalletOpen(plan, e.customerId, e.currency, e.createdAt);
  cursor.entryCount += 1;
  const currencySeq = (cursor.entryCounts[e.currency] ?? 0) + 1;
  cursor.entryCounts[e.currency] = currencySeq;
  plan.entries.push({
    _id: e.id,
    customerId: e.customerId,
    businessId: e.businessId,
    currency: e.currency,
    amountMinor: int64(e.amountMinor, 'amountMinor'),
    isCredit: e.isCredit,
    beforeBalanceMinor: int64(e.beforeBalanceMinor, 'beforeBalanceMinor'),
    afterBalanceMinor: int64(e.afterBalanceMinor, 'afterBalanceMinor'),
    reason: e.reason,
    createdAt: e.createdAt,
    customerSeq: cursor.entryCount,
    currencySeq,
    revision,
    eventPosition: e.eventPosition,
  });
  plan.walletBalances.set(walletId(e.customerId, e.currency), {
    balanceMinor: int64(e.afterBalanceMinor, 'afterBalanceMinor'),
    updatedAt: e.createdAt,
    balanceRevision: revision,
  });
}

const DUPLICATE_KEY = 11000;

/**
 * Entries, wallet openings and customer creations are insert-once, keyed by their id,
 * so a plain insert is enough: a replayed batch collides on the keys it already wrote,
 * and those collisions are the no-op we want. Inserts are also far cheaper than upserts,
 * and FerretDB 1.24 was seen to hang on `$setOnInsert` upserts of existing documents.
 */
async function insertIgnoringDuplicates<T extends Document>(collection: Collection<T>, docs: readonly T[]): Promise<void> {
  if (docs.length === 0) return;
  try {
    await collection.insertMany(docs as never, { ordered: false });
  } catch (error) {
    const onlyDuplicates =
      error instanceof MongoBulkWriteError &&
      (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]).every((e) => e.code === DUPLICATE_KEY);
    if (!onlyDuplicates) throw error;
  }
}

/** Not an upsert: when the guard fails the wallet exists, and an upsert would collide on _id. */
function walletBalanceWrites(plan: BatchPlan): AnyBulkWriteOperation<WalletDoc>[] {
  return [...plan.walletBalances].map(([_id, balance]) => ({
    updateOne: { filter: { _id, balanceRevision: { $lt: balance.balanceRevision } }, update: { $set: balance } },
  }));
}

function customerAdvanceWrites(plan: BatchPlan): AnyBulkWriteOperation<CustomerDoc>[] {
  return [...plan.cursors]
    .filter(([, cursor]) => cursor.advanced)
    .map(([_id, cursor]) => ({
      updateOne: {
        filter: { _id, revision: { $lt: cursor.revision } },
        update: {
          $set: { ...cursor.changes, revision: cursor.revision, entryCount: cursor.entryCount, entryCounts: cursor.entryCounts },
        },
      },
    }));
}

function businessWrites(plan: BatchPlan): AnyBulkWriteOperation<BusinessDoc>[] {
  // $max, not $inc: writing the same counter twice (a replay) leaves it right.
  const moved = [...plan.businessSeqs].filter(([id, seq]) => seq > (plan.storedBusinessCounts.get(id) ?? 0));
  return moved.map(([_id, customerCount]) => ({
    updateOne: { filter: { _id }, update: { $max: { customerCount } }, upsert: true },
  }));
}

function customerIdOf(op: ProjectionOp): string {
  switch (op.kind) {
    case 'customer.create':
      return op.customer.customerId;
    case 'entry.add':
      return op.entry.customerId;
    default:
      return op.customerId;
  }
}

/** A 0-based page of a dense 1-based sequence, newest first: (count - (N+1)*size, count - N*size]. */
function pageRange(count: number, page: { pageNumber: number; pageSize: number }): { $gt: number; $lte: number } | null {
  const maxSeq = count - page.pageNumber * page.pageSize;
  return maxSeq <= 0 ? null : { $gt: maxSeq - page.pageSize, $lte: maxSeq };
}

function walletId(customerId: string, currency: string): string {
  return `${customerId}:${currency}`;
}

function safe(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${field} is not a safe integer: ${value}`);
  return value;
}

function int64(value: number, field: string): Long {
  return Long.fromNumber(safe(value, field));
}

function toNumber(value: Int64): number {
  return typeof value === 'number' ? value : safe(value.toNumber(), 'int64');
}

function toDocChanges(changes: ProfileChanges): CustomerCursor['changes'] {
  const { metadata, ...rest } = changes;
  return metadata === undefined ? rest : { ...rest, metadata: toPairs(metadata) };
}

function toPairs(metadata: Readonly<Record<string, string>>): MetadataPair[] {
  return Object.entries(metadata).map(([key, value]) => ({ key, value }));
}

// FerretDB 1.24 drops null and empty-array fields from a `$setOnInsert` upsert: a missing field reads as empty.
function toCustomer(doc: CustomerDoc): CustomerView {
  return {
    customerId: doc._id,
    businessId: doc.businessId,
    email: doc.email,
    name: doc.name,
    phoneNumber: doc.phoneNumber ?? null,
    metadata: Object.fromEntries((doc.metadata ?? []).map((pair) => [pair.key, pair.value])),
    createdAt: doc.createdAt,
  };
}

function toWallet(doc: WalletDoc): WalletView {
  return {
    customerId: doc.customerId,
    currency: doc.currency,
    balanceMinor: toNumber(doc.balanceMinor),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toEntry(doc: EntryDoc): LedgerEntryView {
  const entry: LedgerEntryView = {
    id: doc._id,
    customerId: doc.customerId,
    businessId: doc.businessId,
    currency: doc.currency,
    amountMinor: toNumber(doc.amountMinor),
    isCredit: doc.isCredit,
    beforeBalanceMinor: toNumber(doc.beforeBalanceMinor),
    afterBalanceMinor: toNumber(doc.afterBalanceMinor),
    eventType: 'merchant_adjustment',
    reason: doc.reason ?? null,
    referenceObjectId: null,
    createdAt: doc.createdAt,
  };
  return doc.eventPosition == null ? entry : { ...entry, eventPosition: doc.eventPosition };
}
