import { ConfigError } from '@mp3converter/config';
import { handleCrashes, onShutdown } from '@mp3converter/lifecycle';
import { createLogger, type Logger, type LoggerOptions } from '@mp3converter/logging';

/** What a service's start function gives back. */
export interface RunningService {
  /** Resolves once the service has what it needs to work; a rejection ends the process. */
  ready: Promise<void>;
  /** Stops taking work, lets the work in hand finish, disconnects. */
  stop(): Promise<void>;
}

export interface RunServiceOptions<C> {
  /** How long stop() may take before the process exits anyway (the shutdown timer). */
  shutdownTimeoutMs?: (config: C) => number;
  /** The fatal log line when `ready` rejects. */
  notReady?: string;
}

/**
 * A service's boot, the same in all four: parse the configuration (a bad one is one line on
 * stderr and exit 1), create the logger, log crashes, start, stop on SIGTERM or SIGINT within
 * the shutdown budget, and exit 1 if the service can never become ready.
 */
export async function runService<C extends { logLevel: LoggerOptions['level'] }>(
  name: string,
  loadConfig: () => C,
  start: (config: C, log: Logger) => Promise<RunningService>,
  {
    shutdownTimeoutMs,
    notReady = 'could not connect to its dependencies',
  }: RunServiceOptions<C> = {},
): Promise<void> {
  let config: C;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
  const log = createLogger({ service: name, level: config.logLevel });
  handleCrashes(log);
  const service = await start(config, log);
  onShutdown(
    log,
    () => service.stop(),
    shutdownTimeoutMs === undefined ? {} : { timeoutMs: shutdownTimeoutMs(config) },
  );
  service.ready.catch((error: unknown) => {
    log.fatal({ err: error }, notReady);
    process.exit(1);
  });
}
