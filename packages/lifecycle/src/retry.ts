import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';

export interface RetryUntilAvailableOptions {
  /** Stops the retrying: the promise then resolves undefined. */
  signal: AbortSignal;
  log: Logger;
  /** Named in the log lines. */
  dependency: string;
  /** Which errors mean "not there yet"; anything else is thrown. Default: DependencyUnavailableError. */
  isUnavailable?: (error: unknown) => boolean;
}

/**
 * Runs `work` until it succeeds, waiting between attempts (1 s, 2 s, 4 s, then 5 s) while
 * the dependency is unavailable: how a service waits at start for a database or broker that
 * is not up yet, instead of crashing (Kubernetes keeps it unready meanwhile). Resolves
 * undefined when stopped through `signal`.
 */
export async function retryUntilAvailable<T>(
  options: RetryUntilAvailableOptions,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const { signal, log, dependency } = options;
  const isUnavailable =
    options.isUnavailable ?? ((error: unknown) => error instanceof DependencyUnavailableError);
  // A function, so that each check reads the signal anew.
  const stopped = (): boolean => signal.aborted;
  for (let attempt = 1; ; attempt += 1) {
    if (stopped()) return undefined;
    try {
      return await work();
    } catch (error) {
      if (stopped()) return undefined;
      if (!isUnavailable(error)) throw error;
      const delayMs = Math.min(500 * 2 ** Math.min(attempt, 4), 5_000);
      log.warn({ err: error, dependency, attempt, delayMs }, 'dependency unavailable, retrying');
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return undefined; // stopped while waiting
      }
    }
  }
}
