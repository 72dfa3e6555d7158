import Database from 'better-sqlite3';
import type { ProjectionRegistry, ProjectionRegistryEntry } from '../projection-registry.port.js';

export interface SqliteProjectionRegistryOptions {
  /** The read models' own file: the registry lives beside what it describes. */
  readonly filename: string;
  readonly busyTimeoutMs: number;
  readonly clock: () => Date;
}

interface RegistryRow {
  name: string;
  active_version: number;
  rebuilding_version: number | null;
  updated_at: string;
}

/** `projection_registry` in the read models' SQLite file; every change is one conditional statement. */
export class SqliteProjectionRegistry implements ProjectionRegistry {
  private readonly db: Database.Database;
  private readonly sql: ReturnType<SqliteProjectionRegistry['prepare']>;

  constructor(private readonly options: SqliteProjectionRegistryOptions) {
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS projection_registry (
        name TEXT PRIMARY KEY, active_version INTEGER NOT NULL, rebuilding_version INTEGER, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
    `);
    this.sql = this.prepare();
  }

  async ensure(name: string, initialVersion: number): Promise<ProjectionRegistryEntry> {
    this.sql.insert.run(name, initialVersion, this.now());
    return toEntry(this.sql.get.get(name) as RegistryRow);
  }

  async get(name: string): Promise<ProjectionRegistryEntry | null> {
    const row = this.sql.get.get(name) as RegistryRow | undefined;
    return row === undefined ? null : toEntry(row);
  }

  async list(): Promise<ProjectionRegistryEntry[]> {
    return (this.sql.list.all() as RegistryRow[]).map(toEntry);
  }

  async beginRebuild(name: string, active: number, version: number): Promise<boolean> {
    return this.sql.begin.run(version, this.now(), name, active).changes === 1;
  }

  async switchActive(name: string, from: number, version: number): Promise<boolean> {
    return this.sql.switch.run(version, this.now(), name, from, version).changes === 1;
  }

  async abandonRebuild(name: string, version: number): Promise<boolean> {
    return this.sql.abandon.run(this.now(), name, version).changes === 1;
  }

  /** A projection version's checkpoint, read without opening (or creating) its tables. */
  checkpointOf(versionName: string): number | null {
    const row = this.sql.checkpoint.get(versionName) as { position: number } | undefined;
    return row?.position ?? null;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private now(): string {
    return this.options.clock().toISOString();
  }

  private prepare() {
    const q = (sql: string) => this.db.prepare(sql);
    return {
      insert: q(
        `INSERT INTO projection_registry (name, active_version, rebuilding_version, updated_at) VALUES (?, ?, NULL, ?)
         ON CONFLICT(name) DO NOTHING`,
      ),
      get: q('SELECT * FROM projection_registry WHERE name = ?'),
      list: q('SELECT * FROM projection_registry ORDER BY name'),
      begin: q(
        `UPDATE projection_registry SET rebuilding_version = ?, updated_at = ?
         WHERE name = ? AND active_version = ? AND rebuilding_version IS NULL`,
      ),
      switch: q(
        `UPDATE projection_registry SET active_version = ?, rebuilding_version = NULL, updated_at = ?
         WHERE name = ? AND active_version = ? AND rebuilding_version = ?`,
      ),
      abandon: q(
        'UPDATE projection_registry SET rebuilding_version = NULL, updated_at = ? WHERE name = ? AND rebuilding_version = ?',
      ),
      checkpoint: q('SELECT position FROM projection_checkpoints WHERE name = ?'),
    };
  }
}

function toEntry(row: RegistryRow): ProjectionRegistryEntry {
  return {
    name: row.name,
    activeVersion: row.active_version,
    rebuildingVersion: row.rebuilding_version,
    updatedAt: row.updated_at,
  };
}
