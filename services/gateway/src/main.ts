import { ConfigError } from '@mp3converter/config';
import { handleCrashes, onShutdown } from '@mp3converter/lifecycle';
import { createLogger } from '@mp3converter/logging';
import { loadGatewayConfig } from './config.ts';
import { shutdownBudgetMs, startGateway } from './server.ts';

let config;
try {
  config = loadGatewayConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`gateway: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'gateway', level: config.logLevel });
handleCrashes(log);
const gateway = await startGateway(config, log);
onShutdown(log, () => gateway.stop(), { timeoutMs: shutdownBudgetMs(config) });
gateway.ready.catch((error: unknown) => {
  log.fatal({ err: error }, 'could not connect to MongoDB and RabbitMQ');
  process.exit(1);
});
