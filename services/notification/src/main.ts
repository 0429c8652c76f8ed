import { ConfigError } from '@mp3converter/config';
import { handleCrashes, onShutdown } from '@mp3converter/lifecycle';
import { createLogger } from '@mp3converter/logging';
import { loadNotificationConfig } from './config.ts';
import { shutdownBudgetMs, startNotifier } from './worker.ts';

let config;
try {
  config = loadNotificationConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`notification: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'notification', level: config.logLevel });
handleCrashes(log);

const notifier = await startNotifier(config, log);
onShutdown(log, () => notifier.stop(), { timeoutMs: shutdownBudgetMs(config) });
notifier.ready.catch((error: unknown) => {
  log.fatal({ err: error }, 'could not connect to MongoDB and RabbitMQ');
  process.exit(1);
});
