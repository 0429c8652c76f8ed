import { runService } from '@mp3converter/service';
import { loadConverterConfig } from './config.ts';
import { FfmpegUnusableError, checkFfmpeg, locateFfmpeg } from './ffmpeg/index.ts';
import { shutdownBudgetMs, startConverter } from './worker.ts';

await runService(
  'converter',
  loadConverterConfig,
  async (config, log) => {
    let ffmpeg;
    try {
      ffmpeg = await checkFfmpeg(locateFfmpeg(config.ffmpeg.path, config.ffmpeg.searchPath));
    } catch (error) {
      if (!(error instanceof FfmpegUnusableError)) throw error;
      log.fatal({ err: error }, 'ffmpeg cannot be used');
      process.exit(1);
    }
    log.info({ path: ffmpeg.path, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found');
    return startConverter(config, ffmpeg, log);
  },
  { shutdownTimeoutMs: shutdownBudgetMs, notReady: 'could not connect to MongoDB and RabbitMQ' },
);
