// Where the tests find the servers that ./scripts/test starts (the same
// defaults as ./scripts/up). Test code only.
const env = process.env;

export const testServers = {
  mysql: {
    host: env.TEST_MYSQL_HOST ?? '127.0.0.1',
    port: Number(env.TEST_MYSQL_PORT ?? 3306),
    user: env.TEST_MYSQL_USER ?? 'mp3converter',
    password: env.TEST_MYSQL_PASSWORD ?? 'mp3converter-dev',
  },
  amqpUrl: env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  rabbitManagementUrl: env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
  mongoUrl: env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/?directConnection=true',
  smtp: { host: '127.0.0.1', port: Number(env.TEST_SMTP_PORT ?? 1025) },
  mailboxUrl: env.TEST_MAILBOX_URL ?? 'http://127.0.0.1:1080',
} as const;

/** The PATH the project's services are started with (they find ffmpeg on it). */
export const servicePath: string = env.PATH ?? '';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** TEST_LOG_LEVEL=debug shows the logs of the code under test; silent by default. */
export const testLogLevel: (typeof LOG_LEVELS)[number] =
  LOG_LEVELS.find((known) => known === env.TEST_LOG_LEVEL) ?? 'silent';
