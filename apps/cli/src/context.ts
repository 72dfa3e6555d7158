import type { EventStore, LogHead } from '#event-store';
import {
  ConfigError,
  describeBackends,
  eventsFile,
  eventStoreExists,
  loadLedgerConfig,
  openEventStore,
  openLogHead,
  openReadModelBackend,
  type LedgerConfig,
  type ReadModelBackend,
  type VersionStore,
} from '#ledger';
import { WALLET_PROJECTION } from '#read-models';
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
      if (!eventStoreExists(this.config)) {
        throw new UsageError(`no event store at ${eventsFile(this.config.dataDir)}: set DATA_DIR (or EVENTSTORE_URL) as for the API`);
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
