import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlerAbortedError } from '@mp3converter/amqp';
import { PermanentError, TransientError } from '@mp3converter/errors';
import {
  JobGoneError,
  RETRIES_EXHAUSTED,
  decideFailure,
  type FailureDecision,
} from '../src/failure-policy.ts';
import { FfmpegError } from '../src/ffmpeg/index.ts';

const running = new AbortController().signal;
const timedOut = AbortSignal.abort(new HandlerAbortedError('AMQP_HANDLER_TIMEOUT', 'video'));
const stopped = AbortSignal.abort(new HandlerAbortedError('AMQP_CONSUMER_STOPPED', 'video'));
const channelClosed = AbortSignal.abort(new HandlerAbortedError('AMQP_CHANNEL_CLOSED', 'video'));

const run = { exitCode: 1, signal: null, stderrTail: '', command: ['ffmpeg'] };
const notMedia = new FfmpegError('NOT_MEDIA', 'the file is not a video', false, run);
const timedOutFfmpeg = new FfmpegError('CONVERSION_TIMED_OUT', 'too long', false, run);
const killed = new FfmpegError('FFMPEG_KILLED', 'interrupted', true, run);
const mongoDown = new TransientError('MONGO_UNAVAILABLE', 'no server');

const cases: {
  name: string;
  error: unknown;
  attempt?: number;
  signal?: AbortSignal;
  decision: FailureDecision;
}[] = [
  {
    name: 'skips a job deleted or taken over, even when its signal was aborted too',
    error: new JobGoneError(),
    signal: timedOut,
    attempt: 5,
    decision: { kind: 'skip', reason: 'job-gone' },
  },
  {
    name: 'fails a file that cannot be converted, deletes its video, and acks',
    error: notMedia,
    decision: {
      kind: 'fail',
      reason: 'permanent-error',
      jobError: { code: 'NOT_MEDIA', message: 'the file is not a video' },
      videoUnusable: true,
      rethrow: false,
    },
  },
  {
    name: 'fails a conversion that took too long at once but keeps the video (it may be ours)',
    error: timedOutFfmpeg,
    decision: {
      kind: 'fail',
      reason: 'permanent-error',
      jobError: { code: 'CONVERSION_TIMED_OUT', message: 'too long' },
      videoUnusable: false,
      rethrow: false,
    },
  },
  {
    name: 'fails an empty upload as a file problem',
    error: new PermanentError('EMPTY_FILE', 'the file is empty'),
    attempt: 5,
    decision: {
      kind: 'fail',
      reason: 'permanent-error',
      jobError: { code: 'EMPTY_FILE', message: 'the file is empty' },
      videoUnusable: true,
      rethrow: false,
    },
  },
  {
    name: 'retries a failure on our side while attempts remain',
    error: mongoDown,
    attempt: 4,
    decision: { kind: 'retry', reason: 'retryable-error' },
  },
  {
    name: 'retries an unknown error (a bug fix may make it pass)',
    error: new Error('boom'),
    decision: { kind: 'retry', reason: 'retryable-error' },
  },
  {
    name: 'fails the job on the last attempt of a failure on our side, and lets the message die',
    error: killed,
    attempt: 5,
    decision: {
      kind: 'fail',
      reason: 'retries-exhausted',
      jobError: RETRIES_EXHAUSTED,
      videoUnusable: false,
      rethrow: true,
    },
  },
  {
    name: 'retries past the handler’s time limit while attempts remain',
    error: timedOut.reason,
    signal: timedOut,
    attempt: 4,
    decision: { kind: 'retry', reason: 'timed-out' },
  },
  {
    name: 'fails the job past the handler’s time limit on the last attempt, whatever was thrown',
    error: notMedia,
    signal: timedOut,
    attempt: 5,
    decision: {
      kind: 'fail',
      reason: 'timed-out-on-last-attempt',
      jobError: RETRIES_EXHAUSTED,
      videoUnusable: false,
      rethrow: true,
    },
  },
  {
    name: 'hands back a message its consumer stopped, even on the last attempt',
    error: notMedia,
    signal: stopped,
    attempt: 5,
    decision: { kind: 'retry', reason: 'handed-back' },
  },
  {
    name: 'hands back a message whose channel closed',
    error: new Error('aborted'),
    signal: channelClosed,
    decision: { kind: 'retry', reason: 'handed-back' },
  },
];

describe('decideFailure', () => {
  for (const { name, error, attempt = 1, signal = running, decision } of cases) {
    it(name, () => {
      assert.deepEqual(decideFailure(error, { attempt, maxAttempts: 5, signal }), decision);
    });
  }
});
