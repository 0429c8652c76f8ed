import type { Logger } from '@mp3converter/logging';

export interface PeriodicTask {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` (never two runs at once; a run still going when the next is
 * due skips that one), logging a failure as a warning and trying again next time. The timer
 * does not keep the process alive.
 */
export function startPeriodic(
  log: Logger,
  intervalMs: number,
  task: () => Promise<void>,
): PeriodicTask {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = task()
      .catch((error: unknown) => {
        log.warn({ err: error }, 'periodic task failed; trying again next time');
      })
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
