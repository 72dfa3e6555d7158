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
  type ProjectionHealth,
  type ProjectionProcess,
} from '#ledger';
import { HEALTH_FILE_WRITE_INTERVAL_MS, HealthFileConfigError, healthFilePath, writeHealthFile } from './health-file.js';

/**
 * The projector as a process of its own, so API instances scale out and only one
 * process at a time writes the read models (it holds the projection lease; others
 * stand by and take over when it dies).
 */
async function main(config: LedgerConfig, healthFile: string | null): Promise<void> {
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
  const healthTimer = watchHealth(projection, healthFile, logger);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing the current batch, releasing the lease`);
    clearInterval(healthTimer);
    await projection.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * Checks the projection every few seconds: writes the verdict to the health file (the
 * container healthcheck reads it) and logs when readiness changes, so a stall or a refused
 * checkpoint shows in the logs as well as in `docker ps`.
 */
function watchHealth(projection: ProjectionProcess, healthFile: string | null, logger: Logger): NodeJS.Timeout {
  let wasReady = true;
  let checking = false;
  const check = async () => {
    // A check slower than the interval (deadlines are shorter) must not pile up.
    if (checking) return;
    checking = true;
    try {
      const health: ProjectionHealth = await projection.health();
      if (health.ready !== wasReady) {
        if (health.ready) logger.log(`healthy again (${health.state}, lag ${health.lagPositions ?? 'unknown'} positions)`);
        else logger.error(`not healthy: ${health.problems.join('; ')}`);
        wasReady = health.ready;
      }
      if (healthFile !== null) await writeHealthFile(healthFile, health);
    } catch (error) {
      logger.warn(`health check failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      checking = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), HEALTH_FILE_WRITE_INTERVAL_MS);
  timer.unref();
  return timer;
}

try {
  const config = loadLedgerConfig(process.env);
  main(config, healthFilePath(process.env)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof HealthFileConfigError ? error.message : error);
  process.exit(1);
}
