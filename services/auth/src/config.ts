import { z } from 'zod';
import { env, serviceConfig } from '@mp3converter/config';
import { MAX_EMAIL_LENGTH } from './emails.ts';
import { passwordSchema } from './passwords.ts';

const schema = z
  .object({
    NODE_ENV: env.nodeEnv,
    LOG_LEVEL: env.logLevel,
    HOST: env.host,
    PORT: env.port(5000),
    MYSQL_HOST: z.string().min(1),
    MYSQL_PORT: env.port(3306),
    MYSQL_USER: z.string().min(1),
    MYSQL_PASSWORD: z.string().min(1),
    MYSQL_DATABASE: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be a plain database name'),
    MYSQL_POOL_SIZE: env.positiveInt(10),
    /** How long one database call may take, waiting for a connection included. */
    MYSQL_TIMEOUT_MS: env.positiveInt(5_000),
    JWT_SECRET: env.secret(32),
    JWT_TTL_SECONDS: env.positiveInt(24 * 60 * 60),
    JWT_ISSUER: z.string().min(1).default('mp3converter-auth'),
    JWT_AUDIENCE: z.string().min(1).default('mp3converter'),
    REGISTRATION_ENABLED: env.boolean(false),
    ADMIN_EMAIL: z.email().max(MAX_EMAIL_LENGTH).optional(),
    ADMIN_PASSWORD: passwordSchema.optional(),
    LOGIN_MAX_FAILURES_PER_EMAIL: env.positiveInt(10),
    LOGIN_MAX_FAILURES_PER_IP: env.positiveInt(100),
    LOGIN_FAILURE_WINDOW_SECONDS: env.positiveInt(15 * 60),
    /** Express "trust proxy": which hops may set X-Forwarded-For (the gateway, the Ingress). */
    TRUST_PROXY: z.string().default('loopback, linklocal, uniquelocal'),
  })
  .refine((c) => (c.ADMIN_EMAIL === undefined) === (c.ADMIN_PASSWORD === undefined), {
    message: 'ADMIN_EMAIL and ADMIN_PASSWORD must be set together',
    path: ['ADMIN_PASSWORD'],
  })
  // Grouped by the module that uses each part, so that each receives only its own.
  .transform((c) => ({
    logLevel: c.LOG_LEVEL,
    http: { host: c.HOST, port: c.PORT, trustProxy: c.TRUST_PROXY },
    database: {
      host: c.MYSQL_HOST,
      port: c.MYSQL_PORT,
      user: c.MYSQL_USER,
      password: c.MYSQL_PASSWORD,
      database: c.MYSQL_DATABASE,
      poolSize: c.MYSQL_POOL_SIZE,
      timeoutMs: c.MYSQL_TIMEOUT_MS,
    },
    tokens: {
      secret: c.JWT_SECRET,
      ttlSeconds: c.JWT_TTL_SECONDS,
      issuer: c.JWT_ISSUER,
      audience: c.JWT_AUDIENCE,
    },
    throttle: {
      maxFailuresPerEmail: c.LOGIN_MAX_FAILURES_PER_EMAIL,
      maxFailuresPerIp: c.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: c.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    registrationEnabled: c.REGISTRATION_ENABLED,
    admin:
      c.ADMIN_EMAIL === undefined || c.ADMIN_PASSWORD === undefined
        ? undefined
        : { email: c.ADMIN_EMAIL, password: c.ADMIN_PASSWORD },
  }));

/** Used only when NODE_ENV=development: never in a deployed environment. */
const developmentDefaults = {
  HOST: '127.0.0.1',
  MYSQL_HOST: '127.0.0.1',
  MYSQL_USER: 'mp3converter',
  MYSQL_PASSWORD: 'mp3converter-dev',
  MYSQL_DATABASE: 'mp3converter',
  JWT_SECRET: 'development-only-secret-change-me-0123456789',
  REGISTRATION_ENABLED: 'true',
  ADMIN_EMAIL: 'admin@example.com',
  ADMIN_PASSWORD: 'admin-password',
};

const config = serviceConfig(schema, developmentDefaults);
export const AUTH_VARIABLES = config.variables;
export const loadAuthConfig = config.load;
export type AuthConfig = ReturnType<typeof loadAuthConfig>;
