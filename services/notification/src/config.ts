import { z } from 'zod';
import { LOCAL_SERVERS, env, serviceConfig } from '@mp3converter/config';
import { DEVELOPMENT_DOWNLOAD_LINK_SECRET } from '@mp3converter/download-links';

const SMTP_TLS_MODES = ['starttls', 'implicit', 'none'] as const;
const DEFAULT_SMTP_PORTS: Record<(typeof SMTP_TLS_MODES)[number], number> = {
  starttls: 587,
  implicit: 465,
  none: 25,
};

const schema = z
  .object({
    NODE_ENV: env.nodeEnv,
    LOG_LEVEL: env.logLevel,
    /** The small HTTP port for /healthz, /readyz and /metrics. */
    HOST: env.host,
    PORT: env.port(8082),
    MONGO_URL: env.url(['mongodb', 'mongodb+srv']),
    /** Database of the `jobs` collection; the record of sent emails lives beside it. */
    MONGO_JOBS_DATABASE: env.databaseName('mp3converter'),
    AMQP_URL: env.url(['amqp', 'amqps']),
    /** Emails sent at once, and the prefetch of each queue. */
    CONCURRENCY: env.positiveInt(4),
    /**
     * Attempts of an email failing on our side (SMTP unreachable or answering 4xx, MongoDB)
     * before its message is dead-lettered: the retries wait 5 s, 30 s, 2, 10 and 30 minutes.
     */
    MAX_ATTEMPTS: env.positiveInt(6),
    SMTP_HOST: z.string().min(1),
    /** Default 587 with STARTTLS (Gmail, most providers), 465 with implicit TLS, else 25. */
    SMTP_PORT: z.coerce.number().int().min(1).max(65_535).optional(),
    /**
     * `starttls`: plain connection upgraded with STARTTLS, which is required; `implicit`: TLS
     * from the first byte (port 465); `none`: no TLS at all, for a development mailbox only.
     */
    SMTP_TLS: z.enum(SMTP_TLS_MODES).default('starttls'),
    SMTP_USER: z.string().min(1).optional(),
    /** For Gmail: an app password (Google account → Security → App passwords), not the login password. */
    SMTP_PASSWORD: z.string().min(1).optional(),
    /** Connecting, the greeting and each SMTP reply may take this long before the attempt fails. */
    SMTP_TIMEOUT_MS: env.positiveInt(30_000),
    MAIL_FROM_ADDRESS: z.email().default('no-reply@mp3converter.com'),
    MAIL_FROM_NAME: z
      .string()
      .min(1)
      .max(100)
      .refine((name) => !/\p{Cc}/u.test(name), 'must not contain control characters')
      .default('mp3converter'),
    /** Where users reach the gateway: the base of the download links in emails. */
    PUBLIC_BASE_URL: env.url(['http', 'https']),
    /** Signs download links: the same value as the gateway's. */
    DOWNLOAD_LINK_SECRET: env.secret(32),
    /** How long the download link in an email works (default 7 days). */
    DOWNLOAD_LINK_TTL_SECONDS: env.positiveInt(7 * 24 * 60 * 60),
    /** On SIGTERM, how long the emails being sent may take to finish. */
    SHUTDOWN_GRACE_MS: env.positiveInt(30_000),
  })
  .refine((c) => (c.SMTP_USER === undefined) === (c.SMTP_PASSWORD === undefined), {
    message: 'SMTP_USER and SMTP_PASSWORD go together: set both or neither',
    path: ['SMTP_PASSWORD'],
  })
  .refine((c) => c.SMTP_TLS !== 'none' || c.SMTP_USER === undefined, {
    message: 'SMTP_TLS=none would send the SMTP password unencrypted: use starttls or implicit',
    path: ['SMTP_TLS'],
  })
  .transform((c) => ({
    logLevel: c.LOG_LEVEL,
    http: { host: c.HOST, port: c.PORT },
    mongo: { url: c.MONGO_URL, jobsDatabase: c.MONGO_JOBS_DATABASE },
    amqp: { url: c.AMQP_URL, concurrency: c.CONCURRENCY, maxAttempts: c.MAX_ATTEMPTS },
    smtp: {
      host: c.SMTP_HOST,
      port: c.SMTP_PORT ?? DEFAULT_SMTP_PORTS[c.SMTP_TLS],
      tls: c.SMTP_TLS,
      auth:
        c.SMTP_USER === undefined || c.SMTP_PASSWORD === undefined
          ? undefined
          : { user: c.SMTP_USER, pass: c.SMTP_PASSWORD },
      timeoutMs: c.SMTP_TIMEOUT_MS,
    },
    mail: { fromAddress: c.MAIL_FROM_ADDRESS, fromName: c.MAIL_FROM_NAME },
    links: {
      publicBaseUrl: c.PUBLIC_BASE_URL,
      secret: c.DOWNLOAD_LINK_SECRET,
      ttlSeconds: c.DOWNLOAD_LINK_TTL_SECONDS,
    },
    shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
  }));

/** Used only when NODE_ENV=development: the local servers and maildev's SMTP port. */
const developmentDefaults = {
  HOST: '127.0.0.1',
  ...LOCAL_SERVERS,
  SMTP_HOST: '127.0.0.1',
  SMTP_PORT: '1025',
  SMTP_TLS: 'none',
  PUBLIC_BASE_URL: 'http://127.0.0.1:8080',
  DOWNLOAD_LINK_SECRET: DEVELOPMENT_DOWNLOAD_LINK_SECRET,
};

const config = serviceConfig(schema, developmentDefaults);
export const NOTIFICATION_VARIABLES = config.variables;
export const loadNotificationConfig = config.load;
export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;
export type SmtpConfig = NotificationConfig['smtp'];
