import type Database from 'better-sqlite3';

/** The table names of one projection version (the version is part of each name). */
export type ReadModelTables = Record<'customers' | 'businesses' | 'wallets' | 'entries', string>;

/**
 * Creates one version's tables and indexes if missing. Layout 2 adds the entries'
 * `event_position` column and its index (see `WALLET_READ_MODEL_LAYOUT`).
 */
export function createReadModelSchema(db: Database.Database, t: ReadModelTables, layout: number): void {
  const { customers, businesses, wallets, entries } = t;
  const layout2 = layout >= 2;
  db.exec(`
    CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS projection_log_identities (name TEXT PRIMARY KEY, log_identity TEXT NOT NULL);
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

/** Every statement the store runs, prepared once per store. */
export function prepareReadModelStatements(db: Database.Database, t: ReadModelTables, layout: number) {
  const { customers, businesses, wallets, entries } = t;
  const entryColumns = `id, business_id, currency, amount_minor, is_credit, before_balance_minor, after_balance_minor, reason, created_at, ${
    layout >= 2 ? 'event_position' : 'NULL'
  }`;
  const q = (sql: string) => db.prepare(sql);
  return {
    checkpoint: q('SELECT position FROM projection_checkpoints WHERE name = ?'),
    logIdentity: q('SELECT log_identity FROM projection_log_identities WHERE name = ?'),
    // First one wins: a projector on another log must not overwrite what these read models came from.
    recordLogIdentity: q('INSERT INTO projection_log_identities (name, log_identity) VALUES (?, ?) ON CONFLICT(name) DO NOTHING'),
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
    updateCustomer: q(`UPDATE ${customers} SET email = ?, name = ?, phone_number = ?, metadata = ? WHERE customer_id = ?`),
    customerCounters: q(`SELECT revision, entry_count FROM ${customers} WHERE customer_id = ?`),
    saveCustomerCounters: q(`UPDATE ${customers} SET revision = ?, entry_count = ? WHERE customer_id = ?`),
    customersPage: q(`SELECT * FROM ${customers} WHERE business_id = ? AND business_seq <= ? ORDER BY business_seq DESC LIMIT ?`),
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
      layout >= 2
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
