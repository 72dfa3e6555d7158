import { Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { DeciderConfig } from '../../domain/src/index.js';
import type { EventStore } from '../../event-store/src/event-store.port.js';
import type { ReadModelStore } from '../../read-models/src/read-model.port.js';
import type { ProjectionLease } from '../../read-models/src/projection-lease.port.js';
import { openEventStore, openProjectionLease, openReadModels } from './backends.js';
import { ProjectorRunner, leaseOwnerName } from './read-side/projector-runner.js';
import { LedgerMetrics } from './observability/ledger-metrics.js';
import { CreateCustomerHandler } from './create-customer/create-customer.handler.js';
import { CreateLedgerEntryHandler } from './create-ledger-entry/create-ledger-entry.handler.js';
import { GetCustomerHandler } from './get-customer/get-customer.handler.js';
import type { LedgerConfig } from './ledger-config.js';
import { ListCustomersHandler } from './list-customers/list-customers.handler.js';
import { ListLedgerEntriesHandler } from './list-ledger-entries/list-ledger-entries.handler.js';
import { ListWalletsHandler } from './list-wallets/list-wallets.handler.js';
import { inProcessReadYourWrites, pollingReadYourWrites } from './read-side/read-your-writes.js';
import { WalletProjector } from './read-side/wallet-projector.js';
import {
  DECIDER_CONFIG,
  EVENT_STORE,
  LEDGER_CONFIG,
  READ_MODELS,
  READ_YOUR_WRITES,
  WALLET_EXECUTOR,
  WALLET_PROJECTOR,
  PROJECTION_LEASE,
  PROJECTOR_RUNNER,
  LEDGER_METRICS,
} from './tokens.js';
import { UpdateCustomerHandler } from './update-customer/update-customer.handler.js';
import { CommandRunner } from './write-side/command-runner.js';
import { WalletCommandExecutor } from './write-side/wallet-command-executor.js';

const HANDLERS = [
  CreateCustomerHandler,
  UpdateCustomerHandler,
  CreateLedgerEntryHandler,
  GetCustomerHandler,
  ListCustomersHandler,
  ListWalletsHandler,
  ListLedgerEntriesHandler,
];

const CHECKPOINT_POLL_MS = 5;

/** Starts the in-process projector and closes the stores, in that order, with the app. */
@Injectable()
class LedgerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Ledger');

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PROJECTOR_RUNNER) private readonly runner: ProjectorRunner,
    @Inject(PROJECTION_LEASE) private readonly lease: ProjectionLease & { close?: () => Promise<void> },
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(READ_MODELS) private readonly readModels: ReadModelStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.projectorMode === 'inprocess') await this.runner.start();
    this.logger.log(`projector ${this.config.projectorMode}${this.runner.isActive ? ' (holding the lease)' : ''}`);
  }

  async onApplicationShutdown(): Promise<void> {
    // Stop projecting first: the last batch reaches its checkpoint before the stores close.
    await this.runner.stop();
    await this.lease.close?.();
    await this.eventStore.close();
    await this.readModels.close();
  }
}

@Module({})
export class LedgerModule {
  static forRoot(config: LedgerConfig): DynamicModule {
    const logger = new Logger('Projector');
    return {
      module: LedgerModule,
      imports: [CqrsModule.forRoot()],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        {
          provide: DECIDER_CONFIG,
          useValue: {
            currencies: new Map(config.currencies.map((c) => [c.code, c])),
            idempotencyRetentionMs: config.idempotencyRetentionMs,
          } satisfies DeciderConfig,
        },
        { provide: EVENT_STORE, useFactory: () => openEventStore(config) },
        { provide: READ_MODELS, useFactory: () => openReadModels(config) },
        {
          provide: LEDGER_METRICS,
          inject: [EVENT_STORE, READ_MODELS],
          useFactory: (store: EventStore, readModels: ReadModelStore) => new LedgerMetrics(store, readModels),
        },
        {
          provide: WALLET_EXECUTOR,
          inject: [EVENT_STORE, DECIDER_CONFIG, LEDGER_METRICS],
          useFactory: (store: EventStore, decider: DeciderConfig, metrics: LedgerMetrics) =>
            new WalletCommandExecutor(store, decider, {
              retriesMax: config.commandRetriesMax,
              appendRetriesMax: 3,
              backoffBaseMs: 2,
              backoffMaxMs: 200,
              streamCacheMax: config.streamCacheMax,
              readPageSize: 1000,
              clock: () => new Date(),
              observer: metrics,
            }),
        },
        {
          provide: WALLET_PROJECTOR,
          inject: [EVENT_STORE, READ_MODELS],
          useFactory: (store: EventStore, readModels: ReadModelStore) =>
            new WalletProjector(store, readModels, {
              batchSizeMax: 500,
              restartDelayMs: 1000,
              log: (level, message, error) =>
                level === 'error' ? logger.error(message, error instanceof Error ? error.stack : String(error)) : logger.log(message),
            }),
        },
        {
          provide: PROJECTION_LEASE,
          inject: [READ_MODELS],
          useFactory: (readModels: ReadModelStore) => openProjectionLease(config, readModels),
        },
        {
          provide: PROJECTOR_RUNNER,
          inject: [WALLET_PROJECTOR, PROJECTION_LEASE],
          useFactory: (projector: WalletProjector, lease: ProjectionLease) =>
            new ProjectorRunner(projector, lease, {
              owner: leaseOwnerName('api'),
              leaseTtlMs: config.projectorLeaseTtlMs,
              leaseRenewMs: config.projectorLeaseRenewMs,
              log: (level, message, error) => (level === 'info' ? logger.log(message) : logger.warn(`${message} ${String(error ?? '')}`)),
            }),
        },
        {
          provide: READ_YOUR_WRITES,
          inject: [WALLET_PROJECTOR, PROJECTOR_RUNNER, READ_MODELS],
          useFactory: (projector: WalletProjector, runner: ProjectorRunner, readModels: ReadModelStore) => {
            const inProcess = inProcessReadYourWrites(projector);
            const polling = pollingReadYourWrites(readModels, CHECKPOINT_POLL_MS);
            // Wake on the local projector while it runs; poll the checkpoint when another process
            // projects, and for what is left of the wait if the local projector stops mid-wait.
            return {
              async waitFor(position: number, timeoutMs: number) {
                const deadline = Date.now() + timeoutMs;
                if (runner.isActive && (await inProcess.waitFor(position, timeoutMs))) return true;
                return polling.waitFor(position, Math.max(0, deadline - Date.now()));
              },
            };
          },
        },
        CommandRunner,
        LedgerLifecycle,
        ...HANDLERS,
      ],
      exports: [LEDGER_METRICS, PROJECTOR_RUNNER, LEDGER_CONFIG, DECIDER_CONFIG, READ_MODELS, EVENT_STORE, WALLET_PROJECTOR, CqrsModule],
    };
  }
}
