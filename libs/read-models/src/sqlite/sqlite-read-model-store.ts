import Database from 'better-sqlite3';
import type { RecordedEvent } from '#event-store';
import {
  WALLET_PROJECTION,
  WALLET_READ_MODEL_LAYOUT,
  type CustomerQuery,
  type CustomerView,
  type LedgerEntryQuery,
  type LedgerEntryView,
  type ReadModelStore,
  type WalletView,
} from '../read-model.port.js';
import { projectEvent, type ProjectionOp } from '../wallet-projection.js';
import { toCustomer, toEntry, toWallet, type CustomerRow, type EntryTuple, type WalletRow } from './sqlite-read-model-rows.js';
import { createReadModelSchema, prepareReadModelStatements, type ReadModelTables } from './sqlite-read-model-schema.js';

export interface SqliteReadModelOptions {
  readonly filename: string;
  readonly busyTimeoutMs: number;
  /**
   * Layout for tables this store creates (default: `WALLET_READ_MODEL_LAYOUT`). Tables that
   * exist already keep the layout they were built with, read from their columns.
   */
  readonly layout?: number;
}

/** A customer's counters as a batch moves them, loaded once per batch. */
interface CustomerCursor {
  revision: number;
  entryCount: number;
  dirty: boolean;
}

/** A wallet as a batch moves it, loaded once per batch. */
interface WalletCursor {
  readonly customerId: string;
  readonly currency: string;
  entryCount: number;
  balanceMinor: number;
  updatedAt: string;
  dirty: boolean;
}

/**
 * What one batch has loaded and changed. The batch runs in one IMMEDIATE transaction, so
 * what it loaded cannot change under it: counters are read once per customer and wallet
 * and written once at the end, instead of a read and two writes per event.
 */
interface BatchCursors {
  readonly customers: Map<string, CustomerCursor>;
  readonly wallets: Map<string, WalletCursor>;
}

/**
 * Read models in a SQLite file of their own. Table names carry the projection
 * version. Ledger entries carry dense per-customer and per-currency sequence numbers,
 * so page N is a range seek on an index, as fast at page 10,000 as at page 0.
 */
export class SqliteReadModelStore implements ReadModelStore {
  private readonly db: Database.Database;
  private readonly t: ReadModelTables;
  private readonly sql: ReturnType<typeof prepareReadModelStatements>;
  /** Layout of this version's tables (see `WALLET_READ_MODEL_LAYOUT`). */
  readonly layout: number;

  constructor(
    options: SqliteReadModelOptions,
    private readonly version: number = WALLET_PROJECTION.version,
  ) {
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    // The event store is the source of truth; a lost read-model commit is re-projected from the checkpoint.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    const prefix = `${WALLET_PROJECTION.name}_v${version}`;
    this.t = {
      customers: `${prefix}_customers`,
      businesses: `${prefix}_businesses`,
      wallets: `${prefix}_wallets`,
      entries: `${prefix}_entries`,
    };
    this.layout = this.existingLayout() ?? options.layout ?? WALLET_READ_MODEL_LAYOUT;
    createReadModelSchema(this.db, this.t, this.layout);
    this.sql = prepareReadModelStatements(this.db, this.t, this.layout);
  }

  /** The projection version whose tables this store reads and writes. */
  get projectionVersion(): number {
    return this.version;
  }

  get projectionName(): string {
    return `${WALLET_PROJECTION.name}_v${this.version}`;
  }

  async applyEvents(events: readonly RecordedEvent[]): Promise<void> {
    this.applyEventsSync(events);
  }

  /** Synchronous form for the in-process projector: one transaction per batch. */
  applyEventsSync(events: readonly RecordedEvent[]): void {
    if (events.length === 0) return;
    this.db
      .transaction(() => {
        const checkpoint = this.checkpointSync() ?? 0;
        const batch: BatchCursors = { customers: new Map(), wallets: new Map() };
        for (const event of events) {
          if (event.position <= checkpoint) continue;
          this.applyOp(projectEvent(event), batch);
        }
        this.writeCursors(batch);
        const last = events[events.length - 1].position;
        if (last > checkpoint) this.sql.saveCheckpoint.run(this.projectionName, last);
      })
      .immediate();
  }

  async checkpoint(): Promise<number | null> {
    return this.checkpointSync();
  }

  async logIdentity(): Promise<string | null> {
    const row = this.sql.logIdentity.get(this.projectionName) as { log_identity: string } | undefined;
    return row?.log_identity ?? null;
  }

  async recordLogIdentity(identity: string): Promise<void> {
    this.sql.recordLogIdentity.run(this.projectionName, identity);
  }

  checkpointSync(): number | null {
    const row = this.sql.checkpoint.get(this.projectionName) as { position: number } | undefined;
    return row?.position ?? null;
  }

  async findCustomer(businessId: string, customerId: string): Promise<CustomerView | null> {
    const row = this.sql.customer.get(customerId) as CustomerRow | undefined;
    return row !== undefined && row.business_id === businessId ? toCustomer(row) : null;
  }

  async listCustomers(businessId: string, query: CustomerQuery): Promise<CustomerView[]> {
    if (query.email !== undefined) {
      const rows = this.sql.customersByEmail.all(businessId, query.email, query.pageSize, query.pageNumber * query.pageSize);
      return (rows as CustomerRow[]).map(toCustomer);
    }
    const business = this.sql.business.get(businessId) as { customer_count: number } | undefined;
    const maxSeq = (business?.customer_count ?? 0) - query.pageNumber * query.pageSize;
    if (maxSeq <= 0) return [];
    return (this.sql.customersPage.all(businessId, maxSeq, query.pageSize) as CustomerRow[]).map(toCustomer);
  }

  async listWallets(customerId: string): Promise<WalletView[]> {
    return (this.sql.wallets.all(customerId) as WalletRow[]).map(toWallet);
  }

  async listLedgerEntries(customerId: string, query: LedgerEntryQuery): Promise<LedgerEntryView[]> {
    const skip = query.pageNumber * query.pageSize;
    if (query.currency !== undefined) {
      const wallet = this.sql.wallet.get(customerId, query.currency) as WalletRow | undefined;
      const maxSeq = (wallet?.entry_count ?? 0) - skip;
      if (maxSeq <= 0) return [];
      const rows = this.sql.entriesByCurrency.all(customerId, query.currency, maxSeq, query.pageSize);
      return (rows as EntryTuple[]).map((row) => toEntry(customerId, row));
    }
    const customer = this.sql.customer.get(customerId) as CustomerRow | undefined;
    const maxSeq = (customer?.entry_count ?? 0) - skip;
    if (maxSeq <= 0) return [];
    return (this.sql.entries.all(customerId, maxSeq, query.pageSize) as EntryTuple[]).map((row) => toEntry(customerId, row));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /**
   * For a version nobody reads yet (a rebuild): drops the history's secondary indexes, so
   * each entry costs one index update less, and checkpoints the WAL less often. They are
   * built in one sort by `endBulkLoad` (and by any later open, which creates missing indexes).
   */
  async beginBulkLoad(): Promise<void> {
    this.db.exec(`DROP INDEX IF EXISTS ${this.t.entries}_currency_seq; DROP INDEX IF EXISTS ${this.t.entries}_event_position;`);
    this.db.pragma('wal_autocheckpoint = 10000');
  }

  async endBulkLoad(): Promise<void> {
    createReadModelSchema(this.db, this.t, this.layout);
    this.db.pragma('wal_autocheckpoint = 1000');
  }

  /** Drops this version's tables and checkpoint (an old version after a rebuild switched away from it). */
  async drop(): Promise<void> {
    const { customers, businesses, wallets, entries } = this.t;
    this.db
      .transaction(() => {
        for (const table of [entries, wallets, customers, businesses]) this.db.exec(`DROP TABLE IF EXISTS ${table}`);
        this.db.prepare('DELETE FROM projection_checkpoints WHERE name = ?').run(this.projectionName);
        this.db.prepare('DELETE FROM projection_log_identities WHERE name = ?').run(this.projectionName);
      })
      .immediate();
  }

  private applyOp(op: ProjectionOp, batch: BatchCursors): void {
    if (op.kind === 'customer.create') {
      this.createCustomer(op, batch);
      return;
    }
    const customerId = op.kind === 'entry.add' ? op.entry.customerId : op.customerId;
    const cursor = this.customerCursor(customerId, batch);
    // Guard: every row of a customer comes from its own stream, so the stream revision orders them.
    if (cursor === undefined || op.revision <= cursor.revision) return;
    cursor.revision = op.revision;
    cursor.dirty = true;
    switch (op.kind) {
      case 'customer.update': {
        const c = op.changes;
        const customer = this.sql.customer.get(customerId) as CustomerRow;
        this.sql.updateCustomer.run(
          c.email ?? customer.email,
          c.name ?? customer.name,
          c.phoneNumber !== undefined ? c.phoneNumber : customer.phone_number,
          c.metadata !== undefined ? JSON.stringify(c.metadata) : customer.metadata,
          customerId,
        );
        return;
      }
      case 'wallet.open':
        this.sql.openWallet.run(customerId, op.currency, op.openedAt, op.openedAt);
        return;
      case 'entry.add':
        this.addEntry(op.entry, cursor, batch);
        return;
    }
  }

  private customerCursor(customerId: string, batch: BatchCursors): CustomerCursor | undefined {
    let cursor = batch.customers.get(customerId);
    if (cursor === undefined) {
      const row = this.sql.customerCounters.get(customerId) as { revision: number; entry_count: number } | undefined;
      if (row === undefined) return undefined;
      cursor = { revision: row.revision, entryCount: row.entry_count, dirty: false };
      batch.customers.set(customerId, cursor);
    }
    return cursor;
  }

  private createCustomer(op: Extract<ProjectionOp, { kind: 'customer.create' }>, batch: BatchCursors): void {
    const c = op.customer;
    if (this.customerCursor(c.customerId, batch) !== undefined) return;
    this.sql.bumpBusiness.run(c.businessId);
    const { customer_count } = this.sql.business.get(c.businessId) as { customer_count: number };
    this.sql.insertCustomer.run(
      c.customerId,
      c.businessId,
      c.email,
      c.name,
      c.phoneNumber,
      JSON.stringify(c.metadata),
      c.createdAt,
      op.revision,
      customer_count,
    );
    batch.customers.set(c.customerId, { revision: op.revision, entryCount: 0, dirty: false });
  }

  private addEntry(e: LedgerEntryView, customer: CustomerCursor, batch: BatchCursors): void {
    const key = `${e.customerId}\u0000${e.currency}`;
    let wallet = batch.wallets.get(key);
    if (wallet === undefined) {
      const row = this.sql.walletCounters.get(e.customerId, e.currency) as
        Pick<WalletRow, 'entry_count' | 'balance_minor' | 'updated_at'> | undefined;
      // As ever, an entry for a wallet never opened opens it.
      if (row === undefined) this.sql.openWallet.run(e.customerId, e.currency, e.createdAt, e.createdAt);
      wallet = {
        customerId: e.customerId,
        currency: e.currency,
        entryCount: row?.entry_count ?? 0,
        balanceMinor: row?.balance_minor ?? 0,
        updatedAt: row?.updated_at ?? e.createdAt,
        dirty: false,
      };
      batch.wallets.set(key, wallet);
    }
    customer.entryCount += 1;
    wallet.entryCount += 1;
    const values = [
      e.id,
      e.customerId,
      e.businessId,
      e.currency,
      e.amountMinor,
      e.isCredit ? 1 : 0,
      e.beforeBalanceMinor,
      e.afterBalanceMinor,
      e.reason,
      e.createdAt,
      customer.entryCount,
      wallet.entryCount,
    ];
    if (this.layout >= 2) values.push(e.eventPosition ?? null);
    this.sql.insertEntry.run(values);
    wallet.balanceMinor = e.afterBalanceMinor;
    wallet.updatedAt = e.createdAt;
    wallet.dirty = true;
  }

  /** Writes the counters and balances a batch moved, once each. */
  private writeCursors(batch: BatchCursors): void {
    for (const [customerId, c] of batch.customers) {
      if (c.dirty) this.sql.saveCustomerCounters.run(c.revision, c.entryCount, customerId);
    }
    for (const w of batch.wallets.values()) {
      if (w.dirty) this.sql.saveWallet.run(w.balanceMinor, w.updatedAt, w.entryCount, w.customerId, w.currency);
    }
  }

  /** The layout of this version's existing entries table, or null when it does not exist yet. */
  private existingLayout(): number | null {
    const columns = this.db.prepare(`PRAGMA table_info(${this.t.entries})`).all() as Array<{ name: string }>;
    if (columns.length === 0) return null;
    return columns.some((column) => column.name === 'event_position') ? 2 : 1;
  }
}
