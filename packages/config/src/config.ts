import { z } from 'zod';

/**
 * Thrown when the environment does not satisfy a service's schema. The message
 * names every missing or bad variable at once, so one restart fixes them all.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly retryable = false;
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /**
   * Values used only when NODE_ENV is "development" and the variable is unset:
   * secrets get no defaults anywhere else.
   */
  developmentDefaults?: Env;
  /** The environment to read; the process environment when omitted. */
  env?: Env;
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Parses the environment once, at start. Nothing else in a service reads process.env. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  options: LoadConfigOptions = {},
): DeepReadonly<z.output<S>> {
  const source = options.env ?? process.env;
  // Empty strings count as unset: `FOO=` in a manifest should not satisfy a required value.
  const env: Env = {};
  for (const [key, value] of Object.entries(source)) {
    if (value !== undefined && value !== '') env[key] = value;
  }
  if ((env.NODE_ENV ?? 'production') === 'development') {
    for (const [key, value] of Object.entries(options.developmentDefaults ?? {})) {
      if (env[key] === undefined) env[key] = value;
    }
  }
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.map(String).join('.') || '(environment)';
      const value = issue.path.length > 0 ? env[String(issue.path[0])] : undefined;
      return value === undefined && issue.code === 'invalid_type'
        ? `${name} is required`
        : `${name}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  return deepFreeze(result.data) as DeepReadonly<z.output<S>>;
}

/** A service's configuration, from its schema (an object, then a transform into the config). */
export interface ServiceConfig<S extends z.ZodType> {
  /** Every variable the service reads: its manifests in k8s/ set these and no others (a test checks). */
  readonly variables: readonly string[];
  /** Parses `source` (the process environment when omitted); throws one ConfigError naming every problem. */
  readonly load: (source?: Env) => DeepReadonly<z.output<S>>;
}

export function serviceConfig<S extends z.ZodType & { in: z.ZodObject }>(
  schema: S,
  developmentDefaults: Env,
): ServiceConfig<S> {
  return {
    variables: Object.keys(schema.in.shape),
    load: (source) =>
      loadConfig(schema, { developmentDefaults, ...(source === undefined ? {} : { env: source }) }),
  };
}

/**
 * Where `./scripts/up` runs the shared servers: development defaults of every service that
 * talks to them (spread into `developmentDefaults`).
 */
export const LOCAL_SERVERS = {
  MONGO_URL: 'mongodb://127.0.0.1:27017/?directConnection=true',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
} as const;

/** Schema pieces every service uses the same way. */
export const env = {
  /** A MongoDB database name: letters, digits, `_` and `-`. */
  databaseName: (fallback: string) =>
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be a plain database name')
      .default(fallback),
  nodeEnv: z.enum(['development', 'test', 'production']).default('production'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  host: z.string().min(1).default('0.0.0.0'),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  /** A secret with a minimum length in bytes (UTF-8). */
  secret: (minBytes: number) =>
    z.string().refine((value) => Buffer.byteLength(value, 'utf8') >= minBytes, {
      message: `must be at least ${minBytes} bytes`,
    }),
  url: (protocols: readonly string[]) =>
    z.string().refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      { message: `must be a ${protocols.join(' or ')} URL` },
    ),
};

/**
 * Where the jobs and their files live, for the services that work on both (gateway,
 * converter): `variables` spread into the schema, `config` reads them back.
 */
export const JOB_STORAGE = {
  variables: {
    MONGO_URL: env.url(['mongodb', 'mongodb+srv']),
    /** GridFS database of the uploaded videos, as in the original. */
    MONGO_VIDEOS_DATABASE: env.databaseName('videos'),
    /** GridFS database of the MP3s, as in the original. */
    MONGO_MP3S_DATABASE: env.databaseName('mp3s'),
    /** Database of the `jobs` collection. */
    MONGO_JOBS_DATABASE: env.databaseName('mp3converter'),
  },
  config: (c: {
    MONGO_URL: string;
    MONGO_VIDEOS_DATABASE: string;
    MONGO_MP3S_DATABASE: string;
    MONGO_JOBS_DATABASE: string;
  }) => ({
    url: c.MONGO_URL,
    videosDatabase: c.MONGO_VIDEOS_DATABASE,
    mp3sDatabase: c.MONGO_MP3S_DATABASE,
    jobsDatabase: c.MONGO_JOBS_DATABASE,
  }),
};
