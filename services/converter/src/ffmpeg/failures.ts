import { AppError } from '@mp3converter/errors';
import type { StderrMarker } from './output.ts';

/** A code and a message for the user; retryable when the cause is ours, not the file's. */
export interface FfmpegFailure {
  code: string;
  message: string;
  retryable: boolean;
}

/** What is known of a run of ffmpeg, for the error that reports it. */
export interface FfmpegRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  command: readonly string[];
  cause?: unknown;
}

/**
 * A conversion that failed. `message` is meant for the user (it ends up in the job and the
 * email); the detail for operators is in `exitCode`, `signal`, `stderrTail` and `command`.
 */
export class FfmpegError extends AppError {
  override name = 'FfmpegError';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of ffmpeg's stderr (at most 20 lines, 4 KB). */
  readonly stderrTail: string;
  /** The argv: binary path first. */
  readonly command: readonly string[];

  constructor(code: string, message: string, retryable: boolean, run: FfmpegRun) {
    super(code, message, retryable ? 503 : 422, retryable, { cause: run.cause });
    this.exitCode = run.exitCode;
    this.signal = run.signal;
    this.stderrTail = run.stderrTail;
    this.command = run.command;
  }
}

export function ffmpegError(failure: FfmpegFailure, run: FfmpegRun): FfmpegError {
  return new FfmpegError(failure.code, failure.message, failure.retryable, run);
}

/** ffmpeg could not be started. */
export const UNAVAILABLE: FfmpegFailure = {
  code: 'FFMPEG_UNAVAILABLE',
  message: 'the converter is not available right now',
  retryable: true,
};

/** Stopped by us at its time limit. */
export const TIMED_OUT: FfmpegFailure = {
  code: 'CONVERSION_TIMED_OUT',
  message: 'the conversion took too long and was stopped',
  retryable: false,
};

export interface RunOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  markers: ReadonlySet<StderrMarker>;
  inputDurationSeconds: number | undefined;
  outputDurationSeconds: number | undefined;
}

// A cut faststart MP4 (or Matroska) converts "successfully" up to the cut. It is reported as
// truncated when ffmpeg said so AND the MP3 falls more than this short of the header's
// duration. Both are needed: a shortfall alone is legitimate (an audio track that ends before
// the video), and a "Packet corrupt" glitch mid-file alone loses no real audio.
const TRUNCATION_SHORTFALL_SECONDS = 1;

const NOT_MEDIA: FfmpegFailure = {
  code: 'NOT_MEDIA',
  message: 'the file is not a video or audio file that can be read',
  retryable: false,
};
const TRUNCATED: FfmpegFailure = {
  code: 'TRUNCATED_MEDIA',
  message: 'the file is incomplete or damaged (was it cut off?)',
  retryable: false,
};

/** Why a run that was not stopped by us failed, or undefined if it succeeded. Pure. */
export function classifyFailure(outcome: RunOutcome): FfmpegFailure | undefined {
  const { markers } = outcome;
  if (outcome.signal !== null || markers.has('signalled')) {
    return { code: 'FFMPEG_KILLED', message: 'the conversion was interrupted', retryable: true };
  }
  // These three can come with exit code 0 (ffmpeg 5.1 exits 0 when writing the trailer fails).
  if (markers.has('noSpace')) {
    return {
      code: 'OUT_OF_SPACE',
      message: 'the converter ran out of disk space',
      retryable: true,
    };
  }
  if (markers.has('noMemory')) {
    return { code: 'OUT_OF_MEMORY', message: 'the converter ran out of memory', retryable: true };
  }
  if (markers.has('writeFailed')) {
    return {
      code: 'OUTPUT_WRITE_FAILED',
      message: 'the converter could not write the MP3',
      retryable: true,
    };
  }
  if (outcome.exitCode === 0) {
    if (markers.has('emptyOutput')) {
      return {
        code: 'NO_AUDIO_TRACK',
        message: 'the file’s audio track is empty',
        retryable: false,
      };
    }
    const input = outcome.inputDurationSeconds;
    const output = outcome.outputDurationSeconds ?? 0;
    if (
      markers.has('truncated') &&
      input !== undefined &&
      input - output > TRUNCATION_SHORTFALL_SECONDS
    ) {
      return TRUNCATED;
    }
    return undefined;
  }
  if (markers.has('misdetected')) return NOT_MEDIA;
  if (markers.has('truncated')) return TRUNCATED;
  if (markers.has('noAudio')) {
    return { code: 'NO_AUDIO_TRACK', message: 'the file has no audio track', retryable: false };
  }
  if (markers.has('unreadable')) return NOT_MEDIA;
  return {
    code: 'CONVERSION_FAILED',
    message: 'the file could not be converted',
    retryable: false,
  };
}
