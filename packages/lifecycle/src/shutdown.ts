import type { Logger } from '@mp3converter/logging';

export interface ShutdownOptions {
  /** How long `shutdown` may take before the process exits anyway. */
  timeoutMs?: number;
}

/**
 * Below Kubernetes' default 30 s grace period, so that a stuck shutdown is
 * logged by the process itself rather than ended silently by SIGKILL.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

/**
 * Runs `shutdown` once on SIGTERM or SIGINT, then exits: 0 when it resolves,
 * 1 when it rejects or does not finish within `timeoutMs`. A second signal
 * exits at once.
 */
export function onShutdown(
  log: Logger,
  shutdown: () => Promise<void>,
  { timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS }: ShutdownOptions = {},
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs }, 'shutting down');
    // Not unref'd: this timer is what ends a shutdown that waits on nothing.
    setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown did not finish in time, exiting');
      process.exit(1);
    }, timeoutMs);
    Promise.resolve()
      .then(shutdown)
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
