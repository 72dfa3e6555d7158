import Database from 'better-sqlite3';
import type { RecordedEvent } from '../../../event-store/src/event-store.port.js';
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

export interface SqliteReadModelOptions {
  readonly filename: string;
  readonly busyTimeoutMs: number;
  /**
   * Layout for tables this store creates (default: `WALLET_READ_MODEL_LAYOUT`). Tables that
   * exist already keep the layout they were built with, read from their columns.
   */
  readonly layout?: number;
}

interface CustomerRow {
  customer_id: string;
  business_id: string;
  email: string;
  name: string;
  phone_number: string | null;
  metadata: string;
  created_at: string;
  revision: number;
  entry_count: number;
  business_seq: number;
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

interface WalletRow {
  customer_id: string;
  currency: string;
  balance_minor: number;
  created_at: string;
  updated_at: string;
  entry_count: number;
}

/**
 * Read models in a SQLite file of their own. Table names carry the projection
 * version. Ledger entries carry dense per-customer and per-currency sequence numbers,
 * so page N is a range seek on an index, as fast at page 10,000 as at page 0.
 */
export class SqliteReadModelStore implements ReadModelStore {
  private readonly db: Database.Database;
  private readonly t: Record<'customers' | 'businesses' | 'wallets' | 'entries', string>;
  private readonly sql: ReturnType<SqliteReadModelStore['prepare']>;
  /** Layout of this version's tables (see `WALLET_READ_MODEL_LAYOUT`). */
  readonly layout: number;

  constructor(options: SqliteReadModelOptions, private readonly version: number = WALLET_PROJECTION.version) {
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
    this.createSchema();
    this.sql = this.prepare();
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
    this.db.transaction(() => {
      const checkpoint = this.checkpointSync() ?? 0;
      const batch: BatchCursors = { customers: new Map(), wallets: new Map() };
      for (const event of events) {
        if (event.position <= checkpoint) continue;
        this.applyOp(projectEvent(event), batch);
      }
      this.writeCursors(batch);
      const last = events[events.length - 1].position;
      if (last > checkpoint) this.sql.saveCheckpoint.run(this.projectionName, last);
    }).immediate();
  }

  async checkpoint(): Promise<number | null> {
    return this.checkpointSync();
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
    this.createSchema();
    this.db.pragma('wal_autocheckpoint = 1000');
  }

  /** Drops this version's tables and checkpoint (an old version after a rebuild switched away from it). */
  async drop(): Promise<void> {
    const { customers, businesses, wallets, entries } = this.t;
    this.db.transaction(() => {
      for (const table of [entries, wallets, customers, businesses]) this.db.exec(`DROP TABLE IF EXISTS ${table}`);
      this.db.prepare('DELETE FROM projection_checkpoints WHERE name = ?').run(this.projectionName);
    }).immediate();
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
      c.customerId, c.businessId, c.email, c.name, c.phoneNumber, JSON.stringify(c.metadata), c.createdAt,
      op.revision, customer_count,
    );
    batch.customers.set(c.customerId, { revision: op.revision, entryCount: 0, dirty: false });
  }

  private addEntry(e: LedgerEntryView, customer: CustomerCursor, batch: BatchCursors): void {
    const key = `${e.customerId}\u0000${e.currency}`;
    let wallet = batch.wallets.get(key);
    if (wallet === undefined) {
      const row = this.sql.walletCounters.get(e.customerId, e.currency) as Pick<WalletRow, 'entry_count' | 'balance_minor' | 'updated_at'> | undefined;
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
      e.id, e.customerId, e.businessId, e.currency, e.amountMinor, e.isCredit ? 1 : 0,
      e.beforeBalanceMinor, e.afterBalanceMinor, e.reason, e.createdAt, customer.entryCount, wallet.entryCount,
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

  private createSchema(): void {
    const { customers, businesses, wallets, entries } = this.t;
    const layout2 = this.layout >= 2;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ${businesses} (business_id TEXT PRIMARY KEY, customer_count INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ${customers} (
        customer_id TEXT PRIMARY KEY, business_id TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL,
        phone_number TEXT, metadata TEXT NOT NULL, created_at TEXT NOT NULL,
        revision INTEGER NOT NULL, entry_count INTEGER NOT NULL DEFAULT 0, business_seq INTEGER NOT NULL);
      CREATE UNIQUE INDEX IF NOT EXISTS ${customers}_business_seq ON ${customers} (business_id, business_seq);
      CREATE INDEX IF NOT EXISTS ${customers}_business_email ON ${customers} (business_id, email, business_seq);
      CREATE TABLE IF NOT EXISTS ${wallets} (
        customer_id TEXT NOT NULL, currency TEXT NOT NULL, balance_minor INTEGER NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, entry_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (customer_id, currency));
      CREATE TABLE IF NOT EXISTS ${entries} (
        customer_id TEXT NOT NULL, customer_seq INTEGER NOT NULL, currency_seq INTEGER NOT NULL,
        id TEXT NOT NULL, business_id TEXT NOT NULL, currency TEXT NOT NULL, amount_minor INTEGER NOT NULL,
        is_credit INTEGER NOT NULL, before_balance_minor INTEGER NOT NULL, after_balance_minor INTEGER NOT NULL,
        reason TEXT, created_at TEXT NOT NULL,${layout2 ? ' event_position INTEGER,' : ''}
        PRIMARY KEY (customer_id, customer_seq));
      CREATE UNIQUE INDEX IF NOT EXISTS ${entries}_currency_seq ON ${entries} (customer_id, currency, currency_seq);
      ${layout2 ? `CREATE INDEX IF NOT EXISTS ${entries}_event_position ON ${entries} (event_position);` : ''}
    `);
  }

  private prepare() {
    const { customers, businesses, wallets, entries } = this.t;
    const entryColumns = `id, business_id, currency, amount_minor, is_credit, before_balance_minor, after_balance_minor, reason, created_at, ${
      this.layout >= 2 ? 'event_position' : 'NULL'
    }`;
    const q = (sql: string) => this.db.prepare(sql);
    return {
      checkpoint: q('SELECT position FROM projection_checkpoints WHERE name = ?'),
      saveCheckpoint: q(
        'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
      ),
      customer: q(`SELECT * FROM ${customers} WHERE customer_id = ?`),
      business: q(`SELECT customer_count FROM ${businesses} WHERE business_id = ?`),
      bumpBusiness: q(
        `INSERT INTO ${businesses} (business_id, customer_count) VALUES (?, 1)
         ON CONFLICT(business_id) DO UPDATE SET customer_count = customer_count + 1`,
      ),
      insertCustomer: q(
        `INSERT INTO ${customers} (customer_id, business_id, email, name, phone_number, metadata, created_at, revision, business_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateCustomer: q(
        `UPDATE ${customers} SET email = ?, name = ?, phone_number = ?, metadata = ? WHERE customer_id = ?`,
      ),
      customerCounters: q(`SELECT revision, entry_count FROM ${customers} WHERE customer_id = ?`),
      saveCustomerCounters: q(`UPDATE ${customers} SET revision = ?, entry_count = ? WHERE customer_id = ?`),
      customersPage: q(
        `SELECT * FROM ${customers} WHERE business_id = ? AND business_seq <= ? ORDER BY business_seq DESC LIMIT ?`,
      ),
      customersByEmail: q(
        `SELECT * FROM ${customers} WHERE business_id = ? AND email = ? ORDER BY business_seq DESC LIMIT ? OFFSET ?`,
      ),
      openWallet: q(
        `INSERT INTO ${wallets} (customer_id, currency, balance_minor, created_at, updated_at) VALUES (?, ?, 0, ?, ?)
         ON CONFLICT(customer_id, currency) DO NOTHING`,
      ),
      wallet: q(`SELECT * FROM ${wallets} WHERE customer_id = ? AND currency = ?`),
      wallets: q(`SELECT * FROM ${wallets} WHERE customer_id = ? ORDER BY currency`),
      walletCounters: q(`SELECT entry_count, balance_minor, updated_at FROM ${wallets} WHERE customer_id = ? AND currency = ?`),
      saveWallet: q(
        `UPDATE ${wallets} SET balance_minor = ?, updated_at = ?, entry_count = ? WHERE customer_id = ? AND currency = ?`,
      ),
      insertEntry: q(
        this.layout >= 2
          ? `INSERT INTO ${entries} (id, customer_id, business_id, currency, amount_minor, is_credit,
               before_balance_minor, after_balance_minor, reason, created_at, customer_seq, currency_seq, event_position)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
          : `INSERT INTO ${entries} (id, customer_id, business_id, currency, amount_minor, is_credit,
               before_balance_minor, after_balance_minor, reason, created_at, customer_seq, currency_seq)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // Rows as arrays (`raw`): history pages are the hot read, and arrays cost half what row objects do.
      entries: q(
        `SELECT ${entryColumns} FROM ${entries} WHERE customer_id = ? AND customer_seq <= ? ORDER BY customer_seq DESC LIMIT ?`,
      ).raw(true),
      entriesByCurrency: q(
        `SELECT ${entryColumns} FROM ${entries} WHERE customer_id = ? AND currency = ? AND currency_seq <= ?
         ORDER BY currency_seq DESC LIMIT ?`,
      ).raw(true),
    };
  }
}

function toCustomer(row: CustomerRow): CustomerView {
  return {
    customerId: row.customer_id,
    businessId: row.business_id,
    email: row.email,
    name: row.name,
    phoneNumber: row.phone_number,
    metadata: JSON.parse(row.metadata),
    createdAt: row.created_at,
  };
}

function toWallet(row: WalletRow): WalletView {
  return {
    customerId: row.customer_id,
    currency: row.currency,
    balanceMinor: row.balance_minor,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A history row as `entryColumns` selects it. */
type EntryTuple = [
  id: string, businessId: string, currency: string, amountMinor: number, isCredit: number,
  beforeBalanceMinor: number, afterBalanceMinor: number, reason: string | null, createdAt: string, eventPosition: number | null,
];

function toEntry(customerId: string, row: EntryTuple): LedgerEntryView {
  const [id, businessId, currency, amountMinor, isCredit, beforeBalanceMinor, afterBalanceMinor, reason, createdAt, eventPosition] = row;
  const entry: LedgerEntryView = {
    id,
    customerId,
    businessId,
    currency,
    amountMinor,
    isCredit: isCredit === 1,
    beforeBalanceMinor,
    afterBalanceMinor,
    eventType: 'merchant_adjustment',
    reason,
    referenceObjectId: null,
    createdAt,
  };
  // Layout 2 and later only: older versions have no such column.
  if (eventPosition !== null) (entry as { eventPosition?: number }).eventPosition = eventPosition;
  return entry;
}
