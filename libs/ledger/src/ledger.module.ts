import {
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { DeciderConfig } from '#domain';
import type { EventStore } from '#event-store';
import type { ReadModelStore } from '#read-models';
import { openEventStore, openReadModels } from './backends.js';
import { LedgerMetrics } from './observability/ledger-metrics.js';
import { nestProjectionLog } from './observability/projection-log.js';
import { AuditCustomerHandler } from './audit-customer/audit-customer.handler.js';
import { CreateCustomerHandler } from './create-customer/create-customer.handler.js';
import { CreateLedgerEntriesBatchHandler } from './create-ledger-entries-batch/create-ledger-entries-batch.handler.js';
import { CreateLedgerEntryHandler } from './create-ledger-entry/create-ledger-entry.handler.js';
import { GetCustomerHandler } from './get-customer/get-customer.handler.js';
import { deciderConfigOf, type LedgerConfig } from './ledger-config.js';
import { ListCustomersHandler } from './list-customers/list-customers.handler.js';
import { ListLedgerEntriesHandler } from './list-ledger-entries/list-ledger-entries.handler.js';
import { ListWalletsHandler } from './list-wallets/list-wallets.handler.js';
import { openProjectionProcess, type ProjectionProcess } from './read-side/projection-process.js';
import type { ActiveReadModels } from './read-side/versions/active-read-models.js';
import {
  DECIDER_CONFIG,
  EVENT_STORE,
  LEDGER_CONFIG,
  READ_MODELS,
  READ_YOUR_WRITES,
  WALLET_EXECUTOR,
  WALLET_PROJECTOR,
  PROJECTION_PROCESS,
  PROJECTOR_RUNNER,
  LEDGER_METRICS,
} from './tokens.js';
import { UpdateCustomerHandler } from './update-customer/update-customer.handler.js';
import { CommandRunner } from './write-side/command-runner.js';
import { WalletCommandExecutor } from './write-side/wallet-command-executor.js';

const executorLogger = new Logger('WalletCommandExecutor');

const HANDLERS = [
  AuditCustomerHandler,
  CreateCustomerHandler,
  UpdateCustomerHandler,
  CreateLedgerEntryHandler,
  CreateLedgerEntriesBatchHandler,
  GetCustomerHandler,
  ListCustomersHandler,
  ListWalletsHandler,
  ListLedgerEntriesHandler,
];

/** Starts the in-process projector with the app, and closes the read side and the stores with it. */
@Injectable()
class LedgerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Ledger');

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(PROJECTION_PROCESS) private readonly projection: ProjectionProcess,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.projectorMode === 'inprocess') await this.projection.runner.start();
    this.logger.log(`projector ${this.config.projectorMode}${this.projection.runner.isActive ? ' (holding the lease)' : ''}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.projection.close();
  }
}

/** As the API has always logged: a failed batch with its stack; lease trouble as a warning (another process may project). */
function apiProjectionLog(logger: Logger) {
  return {
    projector: nestProjectionLog(logger, { errorsAs: 'error', errorDetail: 'stack' }),
    runner: nestProjectionLog(logger, { errorsAs: 'warn', errorDetail: 'message' }),
  };
}

@Module({})
export class LedgerModule {
  static forRoot(config: LedgerConfig): DynamicModule {
    return {
      module: LedgerModule,
      imports: [CqrsModule.forRoot()],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        {
          provide: DECIDER_CONFIG,
          useValue: deciderConfigOf(config),
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
              snapshotEveryEvents: config.snapshotEveryEvents,
              keysCachedMax: config.idempotencyKeysCachedMax,
              clock: () => new Date(),
              observer: metrics,
              warn: (message, error) => executorLogger.warn(error instanceof Error ? `${message}: ${error.message}` : message),
            }),
        },
        {
          provide: PROJECTION_PROCESS,
          inject: [EVENT_STORE, READ_MODELS],
          useFactory: (eventStore: EventStore, readModels: ActiveReadModels) =>
            openProjectionProcess(
              config,
              { eventStore, readModels },
              { role: 'api', log: apiProjectionLog(new Logger('Projector')) },
            ),
        },
        { provide: WALLET_PROJECTOR, inject: [PROJECTION_PROCESS], useFactory: (p: ProjectionProcess) => p.projector },
        { provide: PROJECTOR_RUNNER, inject: [PROJECTION_PROCESS], useFactory: (p: ProjectionProcess) => p.runner },
        { provide: READ_YOUR_WRITES, inject: [PROJECTION_PROCESS], useFactory: (p: ProjectionProcess) => p.readYourWrites },
        CommandRunner,
        LedgerLifecycle,
        ...HANDLERS,
      ],
      exports: [
        LEDGER_METRICS,
        PROJECTOR_RUNNER,
        LEDGER_CONFIG,
        DECIDER_CONFIG,
        READ_MODELS,
        EVENT_STORE,
        WALLET_PROJECTOR,
        CqrsModule,
      ],
    };
  }
}
