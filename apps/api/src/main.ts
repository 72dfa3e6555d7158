import { Logger } from '@nestjs/common';
import { ConfigError, describeBackends, loadLedgerConfig } from '../../../libs/ledger/src/index.js';
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
  if (config.usingDevelopmentKey) {
    logger.warn(`API_KEYS is not set: using the development key "${config.apiKeys[0].key}" for business "${config.apiKeys[0].businessId}". Never use it in production.`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
