import { hostname } from 'node:os';
import {
  connectAmqp,
  type AmqpConnection,
  type Consumer,
  type MessageHandler,
} from '@mp3converter/amqp';
import { QUEUE_TOPOLOGY, videoMessageSchema, type VideoMessage } from '@mp3converter/contracts';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { openBucket, sweepOrphanChunks } from '@mp3converter/gridfs';
import { JobStore, ensureJobFileIndex } from '@mp3converter/jobs';
import {
  InFlight,
  retryUntilAvailable,
  startPeriodic,
  startProbeServer,
  type PeriodicTask,
} from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';
import { connectMongo, type MongoConnection } from '@mp3converter/mongo';
import type { ConverterConfig } from './config.ts';
import { convertJobHandler } from './convert-job.ts';
import type { FfmpegBinary } from './ffmpeg.ts';
import { ConverterMetrics } from './metrics.ts';
import { Workspace } from './workspace.ts';

export interface Converter {
  /** The port of /healthz, /readyz and /metrics. */
  port: number;
  /** Resolves once connected and consuming `video`. */
  ready: Promise<void>;
  /** Stops taking messages, lets conversions in hand finish (SHUTDOWN_GRACE_MS), disconnects. */
  stop(): Promise<void>;
}

/** Chunks of an MP3 upload count as abandoned this long after the longest a conversion may take. */
const ORPHAN_MARGIN_MS = 10 * 60_000;
/** What stop() needs beyond the grace period: requeue, close the connections. */
const STOP_MARGIN_MS = 15_000;
/** After the grace period, how long conversions stopped midway get to kill ffmpeg and clean up. */
const ABORT_CLEANUP_MS = 5_000;

/** How long stop() may take at most: the process's shutdown timer gets this. */
export function shutdownBudgetMs(config: ConverterConfig): number {
  return config.shutdownGraceMs + STOP_MARGIN_MS;
}

/**
 * Starts a converter: probes at once, then MongoDB and RabbitMQ (waited for if down), then
 * consuming `video` with prefetch = CONCURRENCY. Several converters compete for messages.
 */
export async function startConverter(
  config: ConverterConfig,
  ffmpeg: FfmpegBinary,
  log: Logger,
): Promise<Converter> {
  const metrics = new ConverterMetrics();
  metrics.ffmpeg(ffmpeg);
  const stopping = new AbortController();
  const workspace = await Workspace.open(config.tempDir, log);
  let mongo: MongoConnection | undefined;
  let amqp: AmqpConnection | undefined;
  let consumer: Consumer | undefined;
  let maintenance: PeriodicTask | undefined;
  const running = new InFlight();

  const probes = await startProbeServer({
    host: config.http.host,
    port: config.http.port,
    log,
    metrics: metrics.registry,
    readiness: {
      mongodb: async () => {
        if (mongo === undefined) throw new DependencyUnavailableError('mongodb');
        await mongo.ping();
      },
      rabbitmq: () => {
        if (amqp?.isConnected() !== true || consumer === undefined) {
          throw new DependencyUnavailableError('rabbitmq');
        }
        return Promise.resolve();
      },
    },
  });

  const prepare = async (): Promise<void> => {
    const { signal } = stopping;
    mongo = await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, () =>
      connectMongo({ url: config.mongo.url, logger: log, appName: 'converter' }),
    );
    if (mongo === undefined) return;
    const connected = mongo;
    const videos = openBucket(connected.db(config.mongo.videosDatabase), 'fs');
    const mp3s = openBucket(connected.db(config.mongo.mp3sDatabase), 'fs');
    const jobs = new JobStore(connected.db(config.mongo.jobsDatabase));
    await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, async () => {
      await jobs.ensureIndexes();
      await ensureJobFileIndex(mp3s.files);
    });
    amqp = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, () =>
      connectAmqp({
        url: config.amqp.url,
        logger: log,
        connectionName: `converter ${hostname()}:${process.pid}`,
        publishTimeoutMs: config.amqp.publishTimeoutMs,
        topology: [QUEUE_TOPOLOGY.mp3, QUEUE_TOPOLOGY.conversionFailed],
      }),
    );
    if (amqp === undefined || signal.aborted) return;
    const publisher = amqp;
    const convert = convertJobHandler({
      jobs,
      videos,
      mp3s,
      publish: (queue, message, options) => publisher.publish(queue, message, options),
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
      worker: `${hostname()}:${process.pid}`,
      log,
    });
    // The consumer stops waiting for a handler once it gives its message back; stop() still
    // waits for the handler to kill its ffmpeg and remove its files.
    const handler: MessageHandler<VideoMessage> = (message, context) =>
      running.run(() => convert(message, context));
    const abandonedBefore = (): Date =>
      new Date(Date.now() - config.amqp.handlerTimeoutMs - ORPHAN_MARGIN_MS);
    const sweep = async (): Promise<void> => {
      const swept = await sweepOrphanChunks(mp3s, abandonedBefore());
      if (swept > 0) log.info({ files: swept }, 'removed the chunks of abandoned MP3 uploads');
    };
    maintenance = startPeriodic(log, config.maintenanceIntervalMs, sweep);
    const consuming = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, () =>
      publisher.consume(QUEUE_TOPOLOGY.video, videoMessageSchema, handler, {
        concurrency: config.amqp.concurrency,
        maxAttempts: config.amqp.maxAttempts,
        handlerTimeoutMs: config.amqp.handlerTimeoutMs,
        stopTimeoutMs: config.shutdownGraceMs,
      }),
    );
    if (consuming === undefined) return;
    consumer = consuming;
    log.info({ concurrency: config.amqp.concurrency }, 'ready');
  };

  return {
    port: probes.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      const result = await consumer?.cancel({ timeoutMs: config.shutdownGraceMs });
      if (result !== undefined) log.info(result, 'consumer stopped');
      await running.settled(ABORT_CLEANUP_MS);
      await maintenance?.stop();
      await Promise.allSettled([amqp?.close(), mongo?.close()]);
      await workspace.close();
      await probes.close();
    },
  };
}
