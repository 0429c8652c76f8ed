import type { Logger } from '@mp3converter/logging';

/**
 * Logs an uncaught exception or unhandled rejection as one JSON line at level
 * fatal, then exits 1: the process is in an unknown state and its supervisor
 * restarts it. pino writes what is still buffered synchronously on exit, so
 * the line is not lost to process.exit.
 */
export function handleCrashes(log: Logger): void {
  process.on('uncaughtException', (error, origin) => {
    log.fatal({ err: error, origin }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
}
