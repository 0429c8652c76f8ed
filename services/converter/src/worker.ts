import { hostname } from 'node:os';
import { QUEUE_TOPOLOGY, videoMessageSchema } from '@mp3converter/contracts';
import { sweepOrphanChunks } from '@mp3converter/gridfs';
import { openJobStorage } from '@mp3converter/jobs';
import { startPeriodic, type PeriodicTask } from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';
import { consumerOf, startWorker, type Worker } from '@mp3converter/service';
import type { ConverterConfig } from './config.ts';
import { convertJobHandler } from './convert-job.ts';
import type { FfmpegBinary } from './ffmpeg/index.ts';
import { ConverterMetrics } from './metrics.ts';
import { Workspace } from './workspace.ts';

export type Converter = Worker;

/** Chunks of an MP3 upload count as abandoned this long after the longest a conversion may take. */
const ORPHAN_MARGIN_MS = 10 * 60_000;
/** What stop() needs beyond the grace period: requeue, close the connections. */
const STOP_MARGIN_MS = 15_000;

/** How long stop() may take at most: the process's shutdown timer gets this. */
export function shutdownBudgetMs(config: ConverterConfig): number {
  return config.shutdownGraceMs + STOP_MARGIN_MS;
}

/**
 * A converter: consumes `video` with prefetch = CONCURRENCY (several converters compete for
 * messages), converts each video with ffmpeg into `mp3s` and publishes to `mp3` or
 * `conversion-failed`; sweeps the chunks of abandoned MP3 uploads now and then.
 */
export async function startConverter(
  config: ConverterConfig,
  ffmpeg: FfmpegBinary,
  log: Logger,
): Promise<Converter> {
  const metrics = new ConverterMetrics();
  metrics.ffmpeg(ffmpeg);
  const workspace = await Workspace.open(config.tempDir, log);
  const worker = `${hostname()}:${process.pid}`;
  let maintenance: PeriodicTask | undefined;

  return startWorker({
    name: 'converter',
    config,
    log,
    metrics: metrics.registry,
    prepare: (mongo) => openJobStorage(mongo, config.mongo, ['mp3s']),
    publishesTo: [QUEUE_TOPOLOGY.mp3, QUEUE_TOPOLOGY.conversionFailed],
    consumers: ({ videos, mp3s, jobs }, amqp) => {
      const abandonedBefore = (): Date =>
        new Date(Date.now() - config.amqp.handlerTimeoutMs - ORPHAN_MARGIN_MS);
      maintenance = startPeriodic(log, config.maintenanceIntervalMs, async () => {
        const swept = await sweepOrphanChunks(mp3s, abandonedBefore());
        if (swept > 0) log.info({ files: swept }, 'removed the chunks of abandoned MP3 uploads');
      });
      const convert = convertJobHandler({
        jobs,
        videos,
        mp3s,
        publish: (queue, message, options) => amqp.publish(queue, message, options),
        ffmpeg,
        workspace,
        metrics,
        keepSourceVideos: config.keepSourceVideos,
        // Under the handler's own limit (convert-job caps it by what is left of it), so that a
        // conversion too long for it fails for good instead of being retried into the same wall.
        timeLimit: {
          baseMs: config.ffmpeg.timeBaseMs,
          perAudioSecondMs: config.ffmpeg.timePerAudioSecondMs,
          maxMs: config.amqp.handlerTimeoutMs,
        },
        handlerTimeoutMs: config.amqp.handlerTimeoutMs,
        worker,
        log,
      });
      return [
        consumerOf({
          queue: QUEUE_TOPOLOGY.video,
          schema: videoMessageSchema,
          handler: convert,
          options: {
            concurrency: config.amqp.concurrency,
            maxAttempts: config.amqp.maxAttempts,
            handlerTimeoutMs: config.amqp.handlerTimeoutMs,
          },
        }),
      ];
    },
    onStop: async () => {
      await maintenance?.stop();
      await workspace.close();
    },
  });
}
