import { HandlerAbortedError, type MessageContext } from '@mp3converter/amqp';
import { isAppError, isRetryable } from '@mp3converter/errors';
import type { JobError } from '@mp3converter/jobs';

/** The job was deleted, or another attempt took it, while this one ran: stop and leave it. */
export class JobGoneError extends Error {
  override name = 'JobGoneError';
}

export const RETRIES_EXHAUSTED: JobError = {
  code: 'CONVERSION_UNAVAILABLE',
  message:
    'the conversion kept failing on our side, not because of your file; it is kept, so please try again later',
  retryable: true,
};

/**
 * Failures that prove the file itself unusable: only then is the video deleted. Others that
 * fail for good (too slow, ffmpeg failing in a way we do not recognise) may be ours: the
 * video stays for a replay.
 */
const FILE_PROBLEMS = new Set(['EMPTY_FILE', 'NOT_MEDIA', 'NO_AUDIO_TRACK', 'TRUNCATED_MEDIA']);

export type FailureDecision =
  /** Nothing left to do: the message is acked. */
  | { kind: 'skip'; reason: 'job-gone' }
  /**
   * The job fails for good with `jobError` (its video deleted if `videoUnusable`). Then the
   * message is acked, or, if `rethrow`, thrown back to the consumer, which dead-letters it.
   */
  | {
      kind: 'fail';
      reason: 'permanent-error' | 'retries-exhausted' | 'timed-out-on-last-attempt';
      jobError: JobError;
      videoUnusable: boolean;
      rethrow: boolean;
    }
  /**
   * Thrown back to the consumer to try again: a failure on our side (`retryable-error`), a
   * handler that ran past its time limit, or a message handed back (shutdown, lost channel),
   * which is no failure at all.
   */
  | { kind: 'retry'; reason: 'retryable-error' | 'timed-out' | 'handed-back' };

/**
 * What to do after a conversion attempt threw `error`. Pure; the consumer owns the retry
 * itself (amqp's decideFailure), this decides what the job records first. On the last attempt
 * the job must not stay `converting` once its message is dead: it fails with RETRIES_EXHAUSTED.
 */
export function decideFailure(
  error: unknown,
  context: Pick<MessageContext, 'attempt' | 'maxAttempts' | 'signal'>,
): FailureDecision {
  if (error instanceof JobGoneError) return { kind: 'skip', reason: 'job-gone' };
  const lastAttempt = context.attempt >= context.maxAttempts;
  if (context.signal.aborted) {
    const reason: unknown = context.signal.reason;
    const timedOut =
      reason instanceof HandlerAbortedError && reason.code === 'AMQP_HANDLER_TIMEOUT';
    if (!timedOut) return { kind: 'retry', reason: 'handed-back' };
    if (!lastAttempt) return { kind: 'retry', reason: 'timed-out' };
    return failure('timed-out-on-last-attempt', RETRIES_EXHAUSTED, true);
  }
  if (!isRetryable(error)) return failure('permanent-error', jobErrorOf(error), false);
  if (lastAttempt) return failure('retries-exhausted', RETRIES_EXHAUSTED, true);
  return { kind: 'retry', reason: 'retryable-error' };
}

function failure(
  reason: Extract<FailureDecision, { kind: 'fail' }>['reason'],
  jobError: JobError,
  rethrow: boolean,
): FailureDecision {
  return {
    kind: 'fail',
    reason,
    jobError,
    videoUnusable: FILE_PROBLEMS.has(jobError.code),
    rethrow,
  };
}

/** The error as the job shows it: an AppError's code and message are written for the user. */
function jobErrorOf(error: unknown): JobError {
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: 'CONVERSION_FAILED', message: 'the file could not be converted' };
}
