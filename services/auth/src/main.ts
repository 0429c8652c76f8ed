import { ConfigError } from '@mp3converter/config';
import { onShutdownSignal } from '@mp3converter/http';
import { createLogger } from '@mp3converter/logging';
import { loadAuthConfig } from './config.ts';
import { startAuthService } from './service.ts';

let config;
try {
  config = loadAuthConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`auth: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'auth', level: config.LOG_LEVEL });
const service = await startAuthService(config, log);
onShutdownSignal(log, () => service.stop());
service.ready.catch((error: unknown) => {
  log.fatal({ err: error }, 'could not prepare the database');
  process.exit(1);
});
