import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { JOB_STORAGE, LOCAL_SERVERS, env, serviceConfig } from '@mp3converter/config';

const schema = z
  .object({
    NODE_ENV: env.nodeEnv,
    LOG_LEVEL: env.logLevel,
    /** The small HTTP port for /healthz, /readyz and /metrics. */
    HOST: env.host,
    PORT: env.port(8081),
    ...JOB_STORAGE.variables,
    AMQP_URL: env.url(['amqp', 'amqps']),
    AMQP_PUBLISH_TIMEOUT_MS: env.positiveInt(10_000),
    /** Conversions at once, and the prefetch: one per core ffmpeg may use. */
    CONCURRENCY: env.positiveInt(1),
    /** Attempts before a conversion failing on our side is dead-lettered and the job failed. */
    MAX_ATTEMPTS: env.positiveInt(4),
    /**
     * The broker's consumer_timeout (RabbitMQ's default is 30 min). A conversion is stopped
     * and retried before it: past it the broker closes the channel.
     */
    AMQP_CONSUMER_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(5 * 60_000, 'must be at least 300000 (5 minutes)')
      .default(30 * 60_000),
    /** ffmpeg to use; else `ffmpeg` on PATH, else the @ffmpeg-installer/ffmpeg build. */
    FFMPEG_PATH: z.string().min(1).optional(),
    /** Searched for `ffmpeg` when FFMPEG_PATH is not set. */
    PATH: z.string().default(''),
    /** ffmpeg's time limit: this much, plus CONVERSION_TIME_PER_AUDIO_SECOND_MS per second of input. */
    CONVERSION_TIME_BASE_MS: env.positiveInt(60_000),
    CONVERSION_TIME_PER_AUDIO_SECOND_MS: env.positiveInt(500),
    /** Where videos and MP3s are kept while converting; emptied at start, one per process. */
    TEMP_DIR: z.string().min(1).default(join(tmpdir(), 'mp3converter-converter')),
    /** Keep the uploaded video in GridFS after converting it (the original project always did). */
    KEEP_SOURCE_VIDEOS: env.boolean(false),
    /**
     * On SIGTERM, how long the conversions in hand may take to finish; the rest are stopped
     * and their messages go back to the queue. Kubernetes' terminationGracePeriodSeconds
     * must be longer: this plus about 15 s.
     */
    SHUTDOWN_GRACE_MS: env.positiveInt(60_000),
    /** How often MP3 chunks left by attempts that died while MongoDB was away are removed. */
    MAINTENANCE_INTERVAL_MS: env.positiveInt(10 * 60_000),
  })
  .transform((c) => ({
    logLevel: c.LOG_LEVEL,
    http: { host: c.HOST, port: c.PORT },
    mongo: JOB_STORAGE.config(c),
    amqp: {
      url: c.AMQP_URL,
      publishTimeoutMs: c.AMQP_PUBLISH_TIMEOUT_MS,
      concurrency: c.CONCURRENCY,
      maxAttempts: c.MAX_ATTEMPTS,
      // Two minutes of margin for the broker's once-a-minute check and the message's settling.
      handlerTimeoutMs: Math.max(60_000, c.AMQP_CONSUMER_TIMEOUT_MS - 2 * 60_000),
    },
    ffmpeg: {
      path: c.FFMPEG_PATH,
      searchPath: c.PATH,
      timeBaseMs: c.CONVERSION_TIME_BASE_MS,
      timePerAudioSecondMs: c.CONVERSION_TIME_PER_AUDIO_SECOND_MS,
    },
    tempDir: c.TEMP_DIR,
    keepSourceVideos: c.KEEP_SOURCE_VIDEOS,
    shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
    maintenanceIntervalMs: c.MAINTENANCE_INTERVAL_MS,
  }));

const developmentDefaults = {
  HOST: '127.0.0.1',
  ...LOCAL_SERVERS,
};

const config = serviceConfig(schema, developmentDefaults);
export const CONVERTER_VARIABLES = config.variables;
export const loadConverterConfig = config.load;
export type ConverterConfig = ReturnType<typeof loadConverterConfig>;
