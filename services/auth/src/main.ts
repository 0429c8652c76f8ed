import { ConfigError } from '@mp3converter/config';
import { handleCrashes, onShutdown } from '@mp3converter/lifecycle';
import { createLogger } from '@mp3converter/logging';
import { loadAuthConfig } from './config.ts';
import { startAuthServer } from './server.ts';

let config;
try {
  config = loadAuthConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`auth: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'auth', level: config.logLevel });
handleCrashes(log);
const server = await startAuthServer(config, log);
onShutdown(log, () => server.stop());
server.ready.catch((error: unknown) => {
  log.fatal({ err: error }, 'could not prepare the database');
  process.exit(1);
});
