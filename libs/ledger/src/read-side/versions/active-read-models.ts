import type { RecordedEvent } from '#event-store';
import {
  ReadModelSwitchedError,
  type CustomerQuery,
  type CustomerView,
  type LedgerEntryQuery,
  type LedgerEntryView,
  type ReadModelStore,
  type VersionedReadModels,
  type WalletView,
} from '#read-models';
import type { ReadModelBackend, VersionStore } from './read-model-backend.js';

export interface ActiveReadModelsOptions {
  /** Projection name in the registry, e.g. `wallet`. */
  readonly name: string;
  /** Version that becomes active when the registry has no entry yet. */
  readonly initialVersion: number;
  /** How often the registry is read for a switch. */
  readonly pollMs: number;
  /** After a switch, how long readers stay on the old version while the new one catches up with it. */
  readonly catchUpTimeoutMs: number;
  /** How long an old version's store stays open for reads still in flight. */
  readonly closeGraceMs: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

export const ACTIVE_READ_MODELS_DEFAULTS = { pollMs: 1000, catchUpTimeoutMs: 5000, closeGraceMs: 5000 } as const;

/**
 * Attempts of one read across versions. Each retry first follows the registry, so a second
 * retry is only needed when another switch lands in between; more than that is a loop.
 */
export const READ_ATTEMPTS_MAX = 3;

/**
 * An empty answer (an unknown customer, an empty page) re-reads the registry at most this often.
 * Safe because a version is dropped seconds after readers were told to leave it (the rebuild's
 * drop delay), far longer than this: a registry read this recent already saw the switch.
 */
const EMPTY_READ_REFRESH_INTERVAL_MS = 100;

/** A read that found nothing: on a version dropped under it (MongoDB), this is all a read sees. */
const isAbsent = (result: unknown): boolean => result === null || (Array.isArray(result) && result.length === 0);

interface Slot {
  readonly version: number;
  readonly store: VersionStore;
}

/**
 * The read models of whichever projection version the registry marks active, for a
 * process that must keep serving across a blue/green switch (the API, the projector).
 *
 * Every `pollMs` it reads the registry. When the active version changes:
 *  1. writers move first: the new version is pinned for writing and `onWriteTargetChange`
 *     listeners (the projector) resubscribe from the new version's own checkpoint; a writer
 *     still holding the old pin gets `ReadModelSwitchedError` instead of writing a gap;
 *  2. readers move once the new version has caught up with what they saw on the old one
 *     (bounded by `catchUpTimeoutMs`), so a read never goes back in time; a read during the
 *     switch also checks, and moves as soon as the new version is there;
 *  3. the old store is closed after `closeGraceMs`. A reader can still be on a version the
 *     rebuild has dropped (it missed the switch, or the new version took longer to catch up
 *     than the rebuild waited before dropping). On SQLite that read fails ("no such table");
 *     on MongoDB a dropped collection reads as empty, so the read finds nothing and the API
 *     would answer 404. Either way, a read that fails or finds nothing looks at the registry
 *     again and, if readers have moved, retries on the new version (`READ_ATTEMPTS_MAX`).
 */
export class ActiveReadModels implements ReadModelStore, VersionedReadModels {
  private reader: Slot;
  private writer: Slot;
  private writerEpoch = 0;
  private pending: { readonly slot: Slot; readonly snapshot: number } | null = null;
  private readonly retiring = new Set<VersionStore>();
  private readonly listeners = new Set<() => void>();
  private refreshing: Promise<void> | null = null;
  private lastRefreshStartedMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly backend: ReadModelBackend,
    private readonly options: ActiveReadModelsOptions,
    initial: Slot,
  ) {
    this.reader = initial;
    this.writer = initial;
  }

  static async open(backend: ReadModelBackend, options: ActiveReadModelsOptions): Promise<ActiveReadModels> {
    const entry = await backend.registry.ensure(options.name, options.initialVersion);
    const store = await backend.openVersion(entry.activeVersion);
    const active = new ActiveReadModels(backend, options, { version: entry.activeVersion, store });
    active.timer = setInterval(() => {
      active
        .refresh()
        .catch((error: unknown) => options.log?.('warn', `${options.name} registry check failed: ${String(error)}`));
    }, options.pollMs);
    active.timer.unref();
    return active;
  }

  /** The version readers are served from. */
  get activeVersion(): number {
    return this.reader.version;
  }

  // ---- ReadModelStore --------------------------------------------------------------

  /** Writes go to the current write target; projectors should pin one with `writeTarget()` instead. */
  applyEvents(events: readonly RecordedEvent[]): Promise<void> {
    return this.writer.store.applyEvents(events);
  }

  checkpoint(): Promise<number | null> {
    return this.read((store) => store.checkpoint());
  }

  findCustomer(businessId: string, customerId: string): Promise<CustomerView | null> {
    return this.read((store) => store.findCustomer(businessId, customerId));
  }

  listCustomers(businessId: string, query: CustomerQuery): Promise<CustomerView[]> {
    return this.read((store) => store.listCustomers(businessId, query));
  }

  listWallets(customerId: string): Promise<WalletView[]> {
    return this.read((store) => store.listWallets(customerId));
  }

  listLedgerEntries(customerId: string, query: LedgerEntryQuery): Promise<LedgerEntryView[]> {
    return this.read((store) => store.listLedgerEntries(customerId, query));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    const stores = new Set<VersionStore>([this.reader.store, this.writer.store, ...this.retiring]);
    if (this.pending !== null) stores.add(this.pending.slot.store);
    for (const store of stores) await store.close().catch(() => undefined);
    await this.backend.close();
  }

  // ---- VersionedReadModels ---------------------------------------------------------

  writeTarget(): ReadModelStore {
    const epoch = this.writerEpoch;
    const { version, store } = this.writer;
    const guard = () => {
      if (epoch !== this.writerEpoch) throw new ReadModelSwitchedError(version, this.writer.version);
    };
    return {
      applyEvents: async (events) => {
        guard();
        await store.applyEvents(events);
      },
      checkpoint: async () => {
        guard();
        return store.checkpoint();
      },
      findCustomer: (businessId, customerId) => store.findCustomer(businessId, customerId),
      listCustomers: (businessId, query) => store.listCustomers(businessId, query),
      listWallets: (customerId) => store.listWallets(customerId),
      listLedgerEntries: (customerId, query) => store.listLedgerEntries(customerId, query),
      // The projector checks and records which log the pinned version was projected from.
      ...(store.logIdentity !== undefined && { logIdentity: () => store.logIdentity!() }),
      ...(store.recordLogIdentity !== undefined && { recordLogIdentity: (identity: string) => store.recordLogIdentity!(identity) }),
      // The pin does not own the store.
      close: async () => undefined,
    };
  }

  onWriteTargetChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- following the registry ------------------------------------------------------

  /** Reads the registry now and follows a switch; resolves once readers have moved. */
  refresh(): Promise<void> {
    if (this.refreshing !== null) return this.refreshing;
    this.lastRefreshStartedMs = Date.now();
    this.refreshing = this.followRegistry().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async followRegistry(): Promise<void> {
    if (this.closed) return;
    const entry = await this.backend.registry.get(this.options.name);
    if (entry === null || entry.activeVersion === this.writer.version || this.closed) return;
    await this.switchTo(entry.activeVersion);
  }

  private async switchTo(version: number): Promise<void> {
    const slot: Slot = { version, store: await this.backend.openVersion(version) };
    if (this.closed) {
      await slot.store.close();
      return;
    }
    const previous = this.writer;
    this.options.log?.('info', `${this.options.name} read models: v${previous.version} -> v${version}`);
    this.writer = slot;
    this.writerEpoch += 1;
    for (const listener of this.listeners) listener();
    const snapshot = (await previous.store.checkpoint().catch(() => null)) ?? 0;
    this.pending = { slot, snapshot };
    const deadline = Date.now() + this.options.catchUpTimeoutMs;
    while (!this.closed && this.pending?.slot === slot && !(await this.caughtUp()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!this.closed && this.pending?.slot === slot && !(await this.caughtUp())) {
      this.options.log?.(
        'warn',
        `${this.options.name} v${version} did not catch up with v${previous.version} in time; serving it anyway`,
      );
    }
    this.promote(slot);
  }

  /** True when the pending version has everything readers saw on the old one. */
  private async caughtUp(): Promise<boolean> {
    const pending = this.pending;
    if (pending === null) return true;
    const checkpoint = (await pending.slot.store.checkpoint().catch(() => null)) ?? 0;
    return checkpoint >= pending.snapshot;
  }

  private promote(slot: Slot): void {
    if (this.pending?.slot !== slot) return;
    this.pending = null;
    const old = this.reader;
    this.reader = slot;
    if (old.store === slot.store || old.store === this.writer.store) return;
    this.retiring.add(old.store);
    const timer = setTimeout(() => {
      this.retiring.delete(old.store);
      void old.store.close().catch(() => undefined);
    }, this.options.closeGraceMs);
    timer.unref();
  }

  private async read<T>(run: (store: ReadModelStore) => Promise<T>): Promise<T> {
    if (this.pending !== null && (await this.caughtUp())) this.promote(this.pending.slot);
    for (let attempt = 1; ; attempt += 1) {
      const slot = this.reader;
      const last = attempt >= READ_ATTEMPTS_MAX;
      let result: T;
      try {
        result = await run(slot.store);
      } catch (error) {
        if (last || !(await this.movedOff(slot, true))) throw error;
        continue;
      }
      // Found nothing: the version may have been dropped under us. Costs a registry read per
      // empty answer, at most one per EMPTY_READ_REFRESH_INTERVAL_MS (concurrent ones share it).
      if (!isAbsent(result) || last || !(await this.movedOff(slot, false))) return result;
    }
  }

  /**
   * After a read on `slot` failed or found nothing: follows the registry (joining a switch in
   * progress, which waits at most `catchUpTimeoutMs` for the new version to catch up) and
   * tells whether readers are now on another version, where the read is worth repeating.
   */
  private async movedOff(slot: Slot, failed: boolean): Promise<boolean> {
    const recentlyRead = Date.now() - this.lastRefreshStartedMs < EMPTY_READ_REFRESH_INTERVAL_MS;
    if (failed || !recentlyRead) await this.refresh().catch(() => undefined);
    else await this.refreshing?.catch(() => undefined);
    // A failed read cannot be answered by the old version at all: serve the new one even
    // if it is still catching up. An empty answer leaves the catch-up rule in charge.
    if (failed && this.pending !== null) this.promote(this.pending.slot);
    return this.reader !== slot;
  }
}
