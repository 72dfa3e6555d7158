import { Logger } from '@nestjs/common';
import {
  ConfigError,
  describeBackends,
  loadLedgerConfig,
  nestProjectionLog,
  openEventStore,
  openProjectionProcess,
  openReadModels,
  type LedgerConfig,
} from '#ledger';

/**
 * The projector as a process of its own, so API instances scale out and only one
 * process at a time writes the read models (it holds the projection lease; others
 * stand by and take over when it dies).
 */
async function main(config: LedgerConfig): Promise<void> {
  const logger = new Logger('Projector');
  const eventStore = await openEventStore(config);
  const readModels = await openReadModels(config);
  // This process only projects: every failure is an error line of its own, with the cause's message.
  const log = nestProjectionLog(logger, { errorsAs: 'error', errorDetail: 'message' });
  const projection = await openProjectionProcess(
    config,
    { eventStore, readModels },
    { role: 'projector', log: { projector: log, runner: log } },
  );
  logger.log(`starting (${describeBackends(config)})`);
  await projection.runner.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing the current batch, releasing the lease`);
    await projection.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

try {
  const config = loadLedgerConfig(process.env);
  main(config).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
