import { Long, type AnyBulkWriteOperation } from 'mongodb';
import type { LedgerEntryView } from '../read-model.port.js';
import type { ProjectionOp } from '../wallet-projection.js';
import { int64, toPairs, walletId, type CustomerDoc, type BusinessDoc, type EntryDoc, type WalletDoc } from './mongo-documents.js';

/*
 * Batch planning: everything one `applyEvents` batch writes is computed in memory from
 * the stored customer and business documents before the first write (see `writePlan` in
 * `mongo-read-model-store.ts` for the order the writes then take).
 */

type ProfileChanges = Extract<ProjectionOp, { kind: 'customer.update' }>['changes'];

export type LoadedCustomer = Pick<CustomerDoc, '_id' | 'revision' | 'entryCount' | 'entryCounts' | 'businessSeq'>;

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
export interface BatchPlan {
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
 * Applies the ops to in-memory cursors started from the stored customers. Sequence
 * numbers depend only on the stored counters and the ops, so a re-applied batch gets
 * the same numbers as the first attempt.
 */
export function planBatch(
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

/** Not an upsert: when the guard fails the wallet exists, and an upsert would collide on _id. */
export function walletBalanceWrites(plan: BatchPlan): AnyBulkWriteOperation<WalletDoc>[] {
  return [...plan.walletBalances].map(([_id, balance]) => ({
    updateOne: { filter: { _id, balanceRevision: { $lt: balance.balanceRevision } }, update: { $set: balance } },
  }));
}

export function customerAdvanceWrites(plan: BatchPlan): AnyBulkWriteOperation<CustomerDoc>[] {
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

export function businessWrites(plan: BatchPlan): AnyBulkWriteOperation<BusinessDoc>[] {
  // $max, not $inc: writing the same counter twice (a replay) leaves it right.
  const moved = [...plan.businessSeqs].filter(([id, seq]) => seq > (plan.storedBusinessCounts.get(id) ?? 0));
  return moved.map(([_id, customerCount]) => ({
    updateOne: { filter: { _id }, update: { $max: { customerCount } }, upsert: true },
  }));
}

export function customerIdOf(op: ProjectionOp): string {
  switch (op.kind) {
    case 'customer.create':
      return op.customer.customerId;
    case 'entry.add':
      return op.entry.customerId;
    default:
      return op.customerId;
  }
}

function toDocChanges(changes: ProfileChanges): CustomerCursor['changes'] {
  const { metadata, ...rest } = changes;
  return metadata === undefined ? rest : { ...rest, metadata: toPairs(metadata) };
}
