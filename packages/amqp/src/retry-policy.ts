import { isAppError, isRetryable } from '@mp3converter/errors';
import type { DeathReason } from './headers.ts';
import { truncate } from './headers.ts';
import { retryDelayFor } from './topology.ts';

export type FailureDecision =
  | { action: 'retry'; delayMs: number; nextAttempt: number }
  | { action: 'dead'; reason: Extract<DeathReason, 'permanent-error' | 'retries-exhausted'> };

/**
 * What to do with a message whose handler threw on attempt `attempt` (1-based):
 * retry later while the error is retryable and attempts remain, else dead-letter.
 */
export function decideFailure(
  error: unknown,
  attempt: number,
  maxAttempts: number,
  retryDelaysMs: readonly number[],
): FailureDecision {
  if (!isRetryable(error)) return { action: 'dead', reason: 'permanent-error' };
  if (attempt >= maxAttempts) return { action: 'dead', reason: 'retries-exhausted' };
  return {
    action: 'retry',
    delayMs: retryDelayFor(retryDelaysMs, attempt),
    nextAttempt: attempt + 1,
  };
}

/** A stable code and a short message for headers; unknown errors get a generic code. */
export function describeError(error: unknown): { code: string; message: string } {
  if (isAppError(error)) return { code: error.code, message: truncate(error.message) };
  if (error instanceof Error) return { code: 'UNEXPECTED_ERROR', message: truncate(error.message) };
  return { code: 'UNEXPECTED_ERROR', message: truncate(String(error)) };
}
