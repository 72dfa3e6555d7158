import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EventStore } from '../../../libs/event-store/src/event-store.port.js';
import { describeBackends, openEventStore } from '../../../libs/ledger/src/backends.js';
import { ConfigError, loadLedgerConfig, type LedgerConfig } from '../../../libs/ledger/src/ledger-config.js';
import { openLogHead, type LogHead } from '../../../libs/ledger/src/projections/log-head.js';
import {
  openReadModelBackend,
  type ReadModelBackend,
  type VersionStore,
} from '../../../libs/ledger/src/projections/read-model-backend.js';
import { WALLET_PROJECTION } from '../../../libs/read-models/src/read-model.port.js';
import { UsageError } from './io.js';

/** The stores a command works on, opened from the same environment as the API; closed together. */
export class CliContext {
  private eventStore: EventStore | null = null;
  private backend: ReadModelBackend | null = null;
  private logHead: LogHead | null = null;
  private readonly opened: Array<{ close(): Promise<void> }> = [];

  private constructor(readonly config: LedgerConfig) {}

  static fromEnv(env: NodeJS.ProcessEnv): CliContext {
    try {
      return new CliContext(loadLedgerConfig(env));
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
  }

  get description(): string {
    return describeBackends(this.config).replace(/; projector: \w+$/, '');
  }

  async events(): Promise<EventStore> {
    if (this.eventStore === null) {
      const file = join(this.config.dataDir, 'events.sqlite');
      if (this.config.eventStoreUrl === null && !existsSync(file)) {
        throw new UsageError(`no event store at ${file}: set DATA_DIR (or EVENTSTORE_URL) as for the API`);
      }
      this.eventStore = await openEventStore(this.config);
    }
    return this.eventStore;
  }

  async readModelBackend(): Promise<ReadModelBackend> {
    this.backend ??= await openReadModelBackend(this.config);
    return this.backend;
  }

  async head(): Promise<LogHead> {
    this.logHead ??= openLogHead(this.config, await this.events());
    return this.logHead;
  }

  /** The active version of the wallet read models, as the registry says (one version, not following switches). */
  async activeReadModels(): Promise<{ version: number; store: VersionStore }> {
    const backend = await this.readModelBackend();
    const entry = await backend.registry.ensure(WALLET_PROJECTION.name, WALLET_PROJECTION.version);
    const store = await backend.openVersion(entry.activeVersion);
    this.opened.push(store);
    return { version: entry.activeVersion, store };
  }

  async close(): Promise<void> {
    for (const store of this.opened.splice(0)) await store.close().catch(() => undefined);
    await this.logHead?.close();
    await this.backend?.close();
    await this.eventStore?.close();
  }
}
