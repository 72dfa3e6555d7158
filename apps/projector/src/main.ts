import { Logger } from '@nestjs/common';
import {
  ConfigError,
  ProjectorRunner,
  leaseOwnerName,
  WalletProjector,
  describeBackends,
  loadLedgerConfig,
  openEventStore,
  openProjectionLease,
  openReadModels,
  type LedgerConfig,
} from '../../../libs/ledger/src/index.js';

/**
 * The projector as a process of its own, so API instances scale out and only one
 * process at a time writes the read models (it holds the projection lease; others
 * stand by and take over when it dies).
 */
async function main(config: LedgerConfig): Promise<void> {
  const logger = new Logger('Projector');
  const eventStore = await openEventStore(config);
  const readModels = await openReadModels(config);
  const lease = await openProjectionLease(config, readModels);
  const log = (level: 'info' | 'warn' | 'error', message: string, error?: unknown) => {
    const detail = error instanceof Error ? ` ${error.message}` : '';
    if (level === 'info') logger.log(message);
    else if (level === 'warn') logger.warn(message + detail);
    else logger.error(message + detail);
  };
  const projector = new WalletProjector(eventStore, readModels, { batchSizeMax: 500, restartDelayMs: 1000, log });
  const runner = new ProjectorRunner(projector, lease, {
    owner: leaseOwnerName('projector'),
    leaseTtlMs: config.projectorLeaseTtlMs,
    leaseRenewMs: config.projectorLeaseRenewMs,
    log,
  });
  logger.log(`starting (${describeBackends(config)})`);
  await runner.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing the current batch, releasing the lease`);
    await runner.stop();
    await (lease as { close?: () => Promise<void> }).close?.();
    await eventStore.close();
    await readModels.close();
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
