// fluent-ffmpeg was archived by its author in May 2025 and is deprecated on npm; as its author
// advises, we spawn ffmpeg directly (an argument array, never a shell), read progress from
// `-progress pipe:1` and keep the tail of stderr for errors.

import { spawn, type ChildProcess } from 'node:child_process';
import { mp3Arguments, type Mp3Target } from './arguments.ts';
import { TIMED_OUT, UNAVAILABLE, classifyFailure, ffmpegError } from './failures.ts';
import type { FfmpegBinary } from './locate.ts';
import {
  LineSplitter,
  ProgressParser,
  ProgressReporter,
  StderrLog,
  type ProgressListener,
} from './output.ts';

export interface Mp3Job extends Mp3Target {
  /** Aborting kills ffmpeg; the promise rejects with `signal.reason` once ffmpeg has exited. */
  signal?: AbortSignal;
  /**
   * Called once, when the header has been read, with the input's duration (undefined when
   * the container does not say); returns the time limit in ms for the whole run, counted
   * from spawn. Default: one minute plus the input's duration in real time (one hour if
   * unknown), far more than MP3 encoding needs.
   */
  timeLimitMs?: (inputDurationSeconds: number | undefined) => number;
  /** The limit until the header has been read. Default 60 s. */
  initialTimeLimitMs?: number;
  /**
   * At most one call every 250 ms, plus a final one when ffmpeg has read all input.
   * `seconds` never decreases; `fraction` is seconds / input duration, clamped to 0..1,
   * undefined when the duration is unknown.
   */
  onProgress?: ProgressListener;
}

export interface Mp3Result {
  /** From ffmpeg's input header (the container's duration, which may include video). */
  inputDurationSeconds: number | undefined;
  /** How much audio was encoded (the final progress `out_time`). */
  outputDurationSeconds: number;
  elapsedMs: number;
}

/**
 * ffmpeg processes running now. A child outlives a parent that exits without killing it (a
 * crash, the shutdown timer, a second signal), and would keep writing into a temp directory
 * the next start removes: they are killed when the process exits, however it exits.
 */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const DEFAULT_INITIAL_TIME_LIMIT_MS = 60_000;
// setTimeout fires at once for longer delays; a limit beyond this is no limit.
const MAX_TIMER_MS = 2_147_483_647;

type Stop =
  | { kind: 'aborted'; reason: unknown }
  | { kind: 'timedOut'; limitMs: number }
  | { kind: 'callbackFailed'; error: unknown };

/**
 * Runs ffmpeg on one job. Resolves when ffmpeg exited successfully with a usable MP3;
 * otherwise rejects with FfmpegError, or with `signal.reason` on abort, or with the error a
 * callback threw. Always waits until ffmpeg has exited. On failure the output may be left
 * half-written: the caller owns and removes it.
 */
export async function convertToMp3(
  binary: Pick<FfmpegBinary, 'path'>,
  job: Mp3Job,
): Promise<Mp3Result> {
  const args = mp3Arguments(job);
  const command = [binary.path, ...args];
  job.signal?.throwIfAborted();

  return new Promise<Mp3Result>((resolvePromise, reject) => {
    const startedAt = performance.now();
    const stderr = new StderrLog();
    const progress = new ProgressParser();
    let stop: Stop | undefined;
    let exited = false;
    let limitChosen = false;

    const child = spawn(binary.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('close', () => running.delete(child));

    const stopWith = (reason: Stop): void => {
      if (stop !== undefined || exited) return;
      stop = reason;
      // The output is discarded anyway, and SIGKILL cannot be delayed by ffmpeg's cleanup.
      child.kill('SIGKILL');
    };

    let limitMs = job.initialTimeLimitMs ?? DEFAULT_INITIAL_TIME_LIMIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const armTimer = (): void => {
      clearTimeout(timer);
      const remaining = Math.max(0, startedAt + limitMs - performance.now());
      timer =
        remaining > MAX_TIMER_MS
          ? undefined
          : setTimeout(() => {
              stopWith({ kind: 'timedOut', limitMs });
            }, remaining);
    };
    armTimer();

    const chooseLimit = (inputDurationSeconds: number | undefined): void => {
      if (limitChosen) return;
      limitChosen = true;
      try {
        limitMs = (job.timeLimitMs ?? defaultTimeLimitMs)(inputDurationSeconds);
        if (Number.isNaN(limitMs)) throw new RangeError('timeLimitMs returned NaN');
      } catch (error) {
        stopWith({ kind: 'callbackFailed', error });
        return;
      }
      armTimer();
    };

    const reporter =
      job.onProgress === undefined ? undefined : new ProgressReporter(job.onProgress);
    const report = (seconds: number, final: boolean): void => {
      try {
        reporter?.report(seconds, stderr.inputDurationSeconds, final);
      } catch (error) {
        stopWith({ kind: 'callbackFailed', error });
      }
    };

    const onAbort = (): void => {
      stopWith({ kind: 'aborted', reason: job.signal?.reason });
    };
    job.signal?.addEventListener('abort', onAbort, { once: true });

    const stdoutLines = new LineSplitter((line) => {
      const block = progress.push(line);
      if (block === undefined) return;
      // The first progress block comes after the header: the duration is as known as it gets.
      chooseLimit(stderr.inputDurationSeconds);
      if (block.seconds !== undefined) report(block.seconds, block.end);
    });
    const stderrLines = new LineSplitter((line) => {
      stderr.push(line);
      if (stderr.durationLineSeen) chooseLimit(stderr.inputDurationSeconds);
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdoutLines.push(chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderrLines.push(chunk);
    });

    child.on('exit', () => {
      exited = true;
      clearTimeout(timer);
    });

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Only spawn failures matter here; a failed kill of an exited process is harmless.
      if (child.pid !== undefined) return;
      clearTimeout(timer);
      job.signal?.removeEventListener('abort', onAbort);
      reject(
        ffmpegError(UNAVAILABLE, {
          exitCode: null,
          signal: null,
          stderrTail: '',
          command,
          cause: error,
        }),
      );
    });

    child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      // A spawn failure was answered by the 'error' handler.
      if (child.pid === undefined) return;
      clearTimeout(timer);
      job.signal?.removeEventListener('abort', onAbort);
      stdoutLines.end();
      stderrLines.end();
      const run = { exitCode, signal, stderrTail: stderr.tail(), command };
      switch (stop?.kind) {
        // Whatever they are: an abort rejects with signal.reason (as fetch and
        // timers/promises do), a callback's failure with what it threw.
        case 'aborted':
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(stop.reason);
          return;
        case 'callbackFailed':
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(stop.error);
          return;
        case 'timedOut':
          reject(ffmpegError(TIMED_OUT, run));
          return;
        case undefined:
          break;
      }
      const failure = classifyFailure({
        exitCode,
        signal,
        markers: stderr.markers,
        inputDurationSeconds: stderr.inputDurationSeconds,
        outputDurationSeconds: progress.lastSeconds,
      });
      if (failure !== undefined) {
        reject(ffmpegError(failure, run));
        return;
      }
      resolvePromise({
        inputDurationSeconds: stderr.inputDurationSeconds,
        outputDurationSeconds: progress.lastSeconds ?? 0,
        elapsedMs: performance.now() - startedAt,
      });
    });
  });
}

function defaultTimeLimitMs(inputDurationSeconds: number | undefined): number {
  return 60_000 + (inputDurationSeconds ?? 3600) * 1000;
}
