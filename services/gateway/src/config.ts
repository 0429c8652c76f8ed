import { z } from 'zod';
import { JOB_STORAGE, LOCAL_SERVERS, env, serviceConfig } from '@mp3converter/config';
import { DEVELOPMENT_DOWNLOAD_LINK_SECRET } from '@mp3converter/download-links';

const GiB = 1024 * 1024 * 1024;
const schema = z
  .object({
    NODE_ENV: env.nodeEnv,
    LOG_LEVEL: env.logLevel,
    HOST: env.host,
    PORT: env.port(8080),
    /** Express "trust proxy": which hops may set X-Forwarded-For (the Ingress controller). */
    TRUST_PROXY: z.string().default('loopback, linklocal, uniquelocal'),
    AUTH_URL: env.url(['http', 'https']),
    /** How long a call to auth (/validate, /login, /register) may take before the answer is 503. */
    AUTH_TIMEOUT_MS: env.positiveInt(5_000),
    ...JOB_STORAGE.variables,
    AMQP_URL: env.url(['amqp', 'amqps']),
    /** How long an upload waits for RabbitMQ to confirm its `video` message before answering 503. */
    AMQP_PUBLISH_TIMEOUT_MS: env.positiveInt(5_000),
    /** Largest video accepted, in bytes (default 2 GiB): past it the answer is 413. */
    MAX_UPLOAD_BYTES: env.positiveInt(2 * GiB),
    /**
     * Uploads taken at once; past it the answer is 503 with Retry-After, before the body is
     * read. Each upload under way holds 2-3 MiB of buffers, so this bounds the gateway's memory.
     */
    MAX_CONCURRENT_UPLOADS: env.positiveInt(32),
    /** A whole upload request may take this long (default 1 hour: 2 GiB at about 600 KB/s). */
    UPLOAD_TIMEOUT_MS: env.positiveInt(60 * 60 * 1000),
    /** Every request but an upload must have sent its whole body within this time. */
    REQUEST_BODY_TIMEOUT_MS: env.positiveInt(30_000),
    /** On SIGTERM, how long requests in flight (uploads) may take to finish before they are cut. */
    SHUTDOWN_GRACE_MS: env.positiveInt(20_000),
    /** An upload that sends nothing for this long is cut off and its partial file removed. */
    UPLOAD_IDLE_TIMEOUT_MS: env.positiveInt(60_000),
    /** How often abandoned upload chunks and interrupted deletes are cleaned up. */
    MAINTENANCE_INTERVAL_MS: env.positiveInt(10 * 60 * 1000),
    /** Signs download links; the notification service must have the same value. */
    DOWNLOAD_LINK_SECRET: env.secret(32),
    /** Lifetime of the `downloadUrl` in a job's JSON (the web page's player and button). */
    JOB_LINK_TTL_SECONDS: env.positiveInt(15 * 60),
  })
  // Grouped by the module that uses each part, so that each receives only its own.
  .transform((c) => ({
    logLevel: c.LOG_LEVEL,
    http: {
      host: c.HOST,
      port: c.PORT,
      trustProxy: c.TRUST_PROXY,
      uploadTimeoutMs: c.UPLOAD_TIMEOUT_MS,
      shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
      bodyTimeoutMs: c.REQUEST_BODY_TIMEOUT_MS,
    },
    auth: { url: c.AUTH_URL, timeoutMs: c.AUTH_TIMEOUT_MS },
    mongo: JOB_STORAGE.config(c),
    amqp: { url: c.AMQP_URL, publishTimeoutMs: c.AMQP_PUBLISH_TIMEOUT_MS },
    upload: {
      maxBytes: c.MAX_UPLOAD_BYTES,
      idleTimeoutMs: c.UPLOAD_IDLE_TIMEOUT_MS,
      maxConcurrent: c.MAX_CONCURRENT_UPLOADS,
    },
    maintenanceIntervalMs: c.MAINTENANCE_INTERVAL_MS,
    links: { secret: c.DOWNLOAD_LINK_SECRET, ttlSeconds: c.JOB_LINK_TTL_SECONDS },
  }));

/** Used only when NODE_ENV=development: never in a deployed environment. */
const developmentDefaults = {
  HOST: '127.0.0.1',
  AUTH_URL: 'http://127.0.0.1:5000',
  ...LOCAL_SERVERS,
  DOWNLOAD_LINK_SECRET: DEVELOPMENT_DOWNLOAD_LINK_SECRET,
};

const config = serviceConfig(schema, developmentDefaults);
export const GATEWAY_VARIABLES = config.variables;
export const loadGatewayConfig = config.load;
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
