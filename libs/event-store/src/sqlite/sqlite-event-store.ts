import Database from 'better-sqlite3';
import { AppendSignal, catchUpSubscription } from '../catch-up-subscription.js';
import {
  APPEND_BATCH_MAX,
  type AppendResult,
  type EventBatchHandler,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../event-store.port.js';
import { checkExpectedRevision } from '../expected-revision.js';
import type { IndexedKey, KeyIndex } from '../key-index.port.js';
import { serialiseSnapshotState, type SnapshotStore, type StreamSnapshot } from '../snapshot-store.port.js';

export interface SqliteEventStoreOptions {
  readonly filename: string;
  /** Most appends committed in one transaction (one fsync). */
  readonly groupCommitMax: number;
  /** Poll interval for appends made by other processes (the CLI, a second reader). */
  readonly idlePollMs: number;
  readonly busyTimeoutMs: number;
  readonly clock: () => Date;
  /** Keys recorded longer ago than this are forgotten from the key index (checked at most once a minute); absent: kept. */
  readonly keyRetentionMs?: number;
}

/** A bounded delete, so forgetting a day of keys never holds the event loop for long. */
const KEYS_FORGOTTEN_PER_PASS_MAX = 10_000;
const KEY_FORGET_INTERVAL_MS = 60_000;

interface PendingAppend {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly events: readonly NewEvent[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface EventRow {
  position: number;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position       INTEGER PRIMARY KEY,
  stream_id      TEXT    NOT NULL,
  revision       INTEGER NOT NULL,
  event_id       TEXT    NOT NULL,
  type           TEXT    NOT NULL,
  schema_version INTEGER NOT NULL,
  data           TEXT    NOT NULL,
  metadata       TEXT    NOT NULL,
  recorded_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_revision ON events (stream_id, revision);
CREATE TABLE IF NOT EXISTS stream_keys (
  stream_id   TEXT    NOT NULL,
  key         TEXT    NOT NULL,
  revision    INTEGER NOT NULL,
  recorded_at TEXT    NOT NULL,
  PRIMARY KEY (stream_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stream_keys_recorded_at ON stream_keys (recorded_at);
CREATE TABLE IF NOT EXISTS store_meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
  stream_id     TEXT    PRIMARY KEY,
  revision      INTEGER NOT NULL,
  state_version INTEGER NOT NULL,
  state         TEXT    NOT NULL,
  written_at    TEXT    NOT NULL
);
`;

interface SnapshotRow {
  revision: number;
  state_version: number;
  state: string;
}

/**
 * The embedded event store: one SQLite file in WAL mode with `synchronous=FULL`, so a
 * commit is on disk before an append resolves and survives SIGKILL and power loss.
 *
 * Appends that arrive in the same event-loop turn share one transaction (group
 * commit): one fsync for many requests, while each append keeps its own
 * expected-revision check and fails alone.
 */
export class SqliteEventStore implements EventStore, SnapshotStore, KeyIndex {
  private readonly db: Database.Database;
  readonly indexedSinceMs: number;
  private lastKeyForgetMs = 0;
  private readonly signal = new AppendSignal();
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private readonly statements: ReturnType<SqliteEventStore['prepare']>;

  constructor(private readonly options: SqliteEventStoreOptions) {
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    this.db.exec(SCHEMA);
    this.statements = this.prepare();
    this.indexedSinceMs = this.keyIndexSince();
  }

  /**
   * When the key index started: the start of time for a log created with it, else the moment it
   * was added to an older log (whose earlier events have no index rows). Recorded once, in the
   * same transaction as the check that the log is empty, so concurrent openers agree.
   */
  private keyIndexSince(): number {
    const since = this.db
      .transaction(() => {
        const head = this.statements.headPosition.get() as { position: number | null };
        const value = head.position === null ? new Date(0).toISOString() : this.options.clock().toISOString();
        this.db.prepare(`INSERT OR IGNORE INTO store_meta (name, value) VALUES ('key_index_since', ?)`).run(value);
        return (this.db.prepare(`SELECT value FROM store_meta WHERE name = 'key_index_since'`).get() as { value: string }).value;
      })
      .immediate();
    return Date.parse(since);
  }

  get keys(): KeyIndex {
    return this;
  }

  async findKey(streamId: string, key: string): Promise<IndexedKey | null> {
    const row = this.statements.findKey.get(streamId, key) as { revision: number; recorded_at: string } | undefined;
    return row === undefined ? null : { streamId, key, revision: row.revision, recordedAt: row.recorded_at };
  }

  async forgetKeysBefore(recordedBeforeMs: number, max: number): Promise<number> {
    return this.forgetKeysNow(recordedBeforeMs, max);
  }

  private forgetKeysNow(recordedBeforeMs: number, max: number): number {
    return this.statements.forgetKeys.run(new Date(recordedBeforeMs).toISOString(), max).changes;
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (events.length === 0 || events.length > APPEND_BATCH_MAX) {
      return Promise.reject(new RangeError(`append takes 1..${APPEND_BATCH_MAX} events`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const rows = this.statements.readStream.all(streamId, options.fromRevision, options.maxCount) as EventRow[];
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const rows = this.statements.readAll.all(options.after ?? 0, options.maxCount) as EventRow[];
    return rows.map(toRecorded);
  }

  /** Snapshots live in the events file, so a restored or copied log carries its own (checked against it on load). */
  get snapshots(): SnapshotStore {
    return this;
  }

  async readSnapshot(streamId: string): Promise<StreamSnapshot | null> {
    const row = this.statements.readSnapshot.get(streamId) as SnapshotRow | undefined;
    if (row === undefined) return null;
    return { streamId, revision: row.revision, stateVersion: row.state_version, state: JSON.parse(row.state) };
  }

  /**
   * Its own statement, outside the group-commit transaction: appends never wait on a snapshot,
   * and a crash loses at most the snapshot (the events are the truth).
   */
  async writeSnapshot(snapshot: StreamSnapshot): Promise<void> {
    const state = serialiseSnapshotState(snapshot);
    this.statements.writeSnapshot.run(
      snapshot.streamId,
      snapshot.revision,
      snapshot.stateVersion,
      state,
      this.options.clock().toISOString(),
    );
  }

  async headPosition(): Promise<number | null> {
    const row = this.statements.headPosition.get() as { position: number | null };
    return row.position;
  }

  subscribe(options: SubscribeOptions, onEvents: EventBatchHandler, onError: (error: unknown) => void): Subscription {
    const source = { readAll: (o: ReadAllOptions) => this.readAll(o), signal: this.signal, idlePollMs: this.options.idlePollMs };
    return catchUpSubscription(source, options, onEvents, onError);
  }

  async close(): Promise<void> {
    if (this.queue.length > 0) this.flush();
    this.signal.notify();
    if (this.db.open) this.db.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.groupCommitMax);
      this.commitBatch(batch);
    }
    this.signal.notify();
    this.maybeForgetKeys();
  }

  /** Expired keys leave the index in their own statement, outside the appends' transaction, at most once a minute. */
  private maybeForgetKeys(): void {
    const retentionMs = this.options.keyRetentionMs;
    if (retentionMs === undefined) return;
    const nowMs = this.options.clock().getTime();
    if (nowMs - this.lastKeyForgetMs < KEY_FORGET_INTERVAL_MS) return;
    this.lastKeyForgetMs = nowMs;
    try {
      this.forgetKeysNow(nowMs - retentionMs, KEYS_FORGOTTEN_PER_PASS_MAX);
    } catch {
      // Only housekeeping: the next pass tries again, and a key past retention is invisible to decisions anyway.
    }
  }

  private commitBatch(batch: readonly PendingAppend[]): void {
    const outcomes: Array<{ ok: true; result: AppendResult } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        // Revisions written earlier in this batch, so two appends to one stream chain correctly.
        const lastRevisions = new Map<string, number | 'no_stream'>();
        for (const pending of batch) outcomes.push(this.tryAppend(pending, lastRevisions));
      }).immediate();
    } catch (error) {
      // The transaction rolled back: nothing in this batch was written.
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome.ok) pending.resolve(outcome.result);
      else pending.reject(outcome.error);
    });
  }

  private tryAppend(
    pending: PendingAppend,
    lastRevisions: Map<string, number | 'no_stream'>,
  ): { ok: true; result: AppendResult } | { ok: false; error: unknown } {
    const actual = lastRevisions.get(pending.streamId) ?? this.currentRevision(pending.streamId);
    try {
      checkExpectedRevision(pending.streamId, pending.expected, actual);
    } catch (error) {
      return { ok: false, error };
    }
    const recordedAt = this.options.clock().toISOString();
    let revision = actual === 'no_stream' ? -1 : actual;
    let position = 0;
    for (const event of pending.events) {
      revision += 1;
      const info = this.statements.insert.run(
        pending.streamId,
        revision,
        event.eventId,
        event.type,
        event.schemaVersion,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        recordedAt,
      );
      position = Number(info.lastInsertRowid);
      // In the same transaction as the event: a key is findable exactly when its event is stored.
      if (event.indexKey != null) this.statements.upsertKey.run(pending.streamId, event.indexKey, revision, recordedAt);
    }
    lastRevisions.set(pending.streamId, revision);
    return { ok: true, result: { lastRevision: revision, lastPosition: position } };
  }

  private currentRevision(streamId: string): number | 'no_stream' {
    const row = this.statements.lastRevision.get(streamId) as { revision: number | null };
    return row.revision === null ? 'no_stream' : row.revision;
  }

  private prepare() {
    return {
      insert: this.db.prepare(
        `INSERT INTO events (stream_id, revision, event_id, type, schema_version, data, metadata, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      lastRevision: this.db.prepare('SELECT MAX(revision) AS revision FROM events WHERE stream_id = ?'),
      readStream: this.db.prepare(
        'SELECT * FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?',
      ),
      readAll: this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?'),
      headPosition: this.db.prepare('SELECT MAX(position) AS position FROM events'),
      upsertKey: this.db.prepare(
        `INSERT INTO stream_keys (stream_id, key, revision, recorded_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (stream_id, key) DO UPDATE SET revision = excluded.revision, recorded_at = excluded.recorded_at`,
      ),
      findKey: this.db.prepare('SELECT revision, recorded_at FROM stream_keys WHERE stream_id = ? AND key = ?'),
      forgetKeys: this.db.prepare(
        `DELETE FROM stream_keys WHERE (stream_id, key) IN
           (SELECT stream_id, key FROM stream_keys WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)`,
      ),
      readSnapshot: this.db.prepare('SELECT revision, state_version, state FROM snapshots WHERE stream_id = ?'),
      writeSnapshot: this.db.prepare(
        `INSERT INTO snapshots (stream_id, revision, state_version, state, written_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET
           revision = excluded.revision, state_version = excluded.state_version,
           state = excluded.state, written_at = excluded.written_at`,
      ),
    };
  }
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    recordedAt: row.recorded_at,
  };
}
