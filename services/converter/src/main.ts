import { ConfigError } from '@mp3converter/config';
import { handleCrashes, onShutdown } from '@mp3converter/lifecycle';
import { createLogger } from '@mp3converter/logging';
import { loadConverterConfig } from './config.ts';
import { FfmpegUnusableError, checkFfmpeg, locateFfmpeg } from './ffmpeg.ts';
import { shutdownBudgetMs, startConverter } from './worker.ts';

let config;
try {
  config = loadConverterConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`converter: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'converter', level: config.logLevel });
handleCrashes(log);

let ffmpeg;
try {
  ffmpeg = await checkFfmpeg(locateFfmpeg(config.ffmpeg.path, config.ffmpeg.searchPath));
} catch (error) {
  if (!(error instanceof FfmpegUnusableError)) throw error;
  log.fatal({ err: error }, 'ffmpeg cannot be used');
  process.exit(1);
}
log.info({ path: ffmpeg.path, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found');

const converter = await startConverter(config, ffmpeg, log);
onShutdown(log, () => converter.stop(), { timeoutMs: shutdownBudgetMs(config) });
converter.ready.catch((error: unknown) => {
  log.fatal({ err: error }, 'could not connect to MongoDB and RabbitMQ');
  process.exit(1);
});
