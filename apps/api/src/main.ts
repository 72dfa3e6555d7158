import { Logger } from '@nestjs/common';
import { ConfigError, describeBackends, loadLedgerConfig } from '#ledger';
import { createApp } from './create-app.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadLedgerConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = new Logger('Main');
  const app = await createApp(config);
  await app.listen({ port: config.port, host: config.host });
  logger.log(`listening on http://${config.host}:${config.port} (${describeBackends(config)})`);
  logger.log(`OpenAPI: /openapi.json, docs UI: /docs`);
  if (config.metricsPort !== null) {
    logger.log(`metrics: http://${config.metricsHost}:${config.metricsPort}/metrics${config.metricsToken === null ? '' : ' (token required)'}`);
  } else if (config.metricsToken === null && config.nodeEnv === 'production') {
    logger.warn('GET /metrics is open on the API port: set METRICS_TOKEN, or METRICS_PORT for a loopback-only listener, or keep the port internal.');
  }
  stopOnSignals(app, logger);
  if (config.usingDevelopmentKey) {
    logger.warn(`API_KEYS is not set: using the development key "${config.apiKeys[0].key}" for business "${config.apiKeys[0].businessId}". Never use it in production.`);
  }
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, let the projector reach a
 * checkpoint, close the stores (app.close runs all of that), then exit 0.
 */
function stopOnSignals(app: Awaited<ReturnType<typeof createApp>>, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: draining in-flight requests and closing the stores`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
