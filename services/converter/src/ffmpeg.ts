// fluent-ffmpeg was archived by its author in May 2025 and is deprecated on npm; as its author
// advises, we spawn ffmpeg directly (an argument array, never a shell), read progress from
// `-progress pipe:1` and keep the tail of stderr for errors.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, resolve } from 'node:path';
import type { ConversionOptions } from '@mp3converter/contracts';
import { AppError } from '@mp3converter/errors';

export type FfmpegSource = 'FFMPEG_PATH' | 'PATH' | '@ffmpeg-installer/ffmpeg';

export interface FfmpegBinary {
  path: string;
  source: FfmpegSource;
  /** As ffmpeg prints it, e.g. "5.1.9-0+deb12u1". */
  version: string;
}

// ---------------------------------------------------------------------------------------------
// Finding an ffmpeg that can encode MP3

/**
 * FFMPEG_PATH if given; else the first executable `ffmpeg` in `searchPath`; else the build of
 * the @ffmpeg-installer/ffmpeg package (throws FfmpegUnusableError if that has none for this
 * platform). Does not run it: checkFfmpeg does.
 */
export function locateFfmpeg(
  configuredPath: string | undefined,
  /** The executable search path (PATH), from the service's config. */
  searchPath: string,
): { path: string; source: FfmpegSource } {
  if (configuredPath !== undefined && configuredPath !== '') {
    return { path: configuredPath, source: 'FFMPEG_PATH' };
  }
  const onPath = findExecutable('ffmpeg', searchPath);
  if (onPath !== undefined) return { path: onPath, source: 'PATH' };
  return { path: installerPath(), source: '@ffmpeg-installer/ffmpeg' };
}

function findExecutable(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    // An empty entry means the working directory: never look for binaries there.
    if (dir === '') continue;
    const candidate = resolve(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next directory.
    }
  }
  return undefined;
}

function installerPath(): string {
  // Loaded only when needed: the package throws (a bare string) at load time on platforms
  // it has no build for, which must not stop a converter that has its own ffmpeg.
  let installer: unknown;
  try {
    installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg');
  } catch (error) {
    throw new FfmpegUnusableError(
      `no ffmpeg: FFMPEG_PATH is not set, there is none on PATH, and @ffmpeg-installer/ffmpeg has no build here (${String(error)})`,
      { cause: error },
    );
  }
  const path = (installer as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') {
    throw new FfmpegUnusableError('@ffmpeg-installer/ffmpeg gave no path');
  }
  return path;
}

/** The ffmpeg found cannot be used: missing, not executable, not ffmpeg, or without libmp3lame. */
export class FfmpegUnusableError extends Error {
  override name = 'FfmpegUnusableError';
}

const CHECK_TIME_LIMIT_MS = 10_000;

/**
 * Runs `-version` and `-encoders`; resolves with the version if the binary runs and has the
 * libmp3lame encoder, else rejects with FfmpegUnusableError saying what is wrong.
 */
export async function checkFfmpeg(located: {
  path: string;
  source: FfmpegSource;
}): Promise<FfmpegBinary> {
  const what = `ffmpeg ${located.path} (from ${located.source})`;
  const versionText = await runForCheck(what, located.path, ['-hide_banner', '-version']);
  const version = /^ffmpeg version (\S+)/m.exec(versionText)?.[1];
  if (version === undefined) {
    throw new FfmpegUnusableError(`${what} is not ffmpeg: "-version" printed no ffmpeg version`);
  }
  const encoders = await runForCheck(what, located.path, ['-hide_banner', '-encoders']);
  if (!/^\s*A\S*\s+libmp3lame\s/m.test(encoders)) {
    throw new FfmpegUnusableError(`${what} (version ${version}) has no libmp3lame MP3 encoder`);
  }
  return { path: located.path, source: located.source, version };
}

function runForCheck(what: string, path: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      path,
      args,
      { timeout: CHECK_TIME_LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout) => {
        if (error === null) {
          resolvePromise(stdout);
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        const problem =
          code === 'ENOENT'
            ? 'was not found'
            : code === 'EACCES'
              ? 'is not executable'
              : error.killed
                ? `did not answer "${args.join(' ')}" within ${CHECK_TIME_LIMIT_MS / 1000} s`
                : `failed to run "${args.join(' ')}": ${error.message.split('\n')[0] ?? ''}`;
        reject(new FfmpegUnusableError(`${what} ${problem}`, { cause: error }));
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Converting to MP3

export interface Mp3Job {
  /**
   * A local file, read only through ffmpeg's `file` protocol (no network, no pipes); or an
   * `http:` URL on the loopback interface (a `VideoSource`), read only over `http` and `tcp`.
   * Either way, a playlist inside the input cannot make ffmpeg open anything else, since only
   * the demuxers of INPUT_FORMATS are allowed.
   */
  input: string | URL;
  /** A local file (.mp3). Seekable, so ffmpeg writes a correct Xing/LAME header at the end. */
  output: string;
  options: ConversionOptions;
  /** ID3 title, e.g. the original file name without its extension. */
  title: string;
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
  onProgress?: (progress: { seconds: number; fraction: number | undefined }) => void;
}

export interface Mp3Result {
  /** From ffmpeg's input header (the container's duration, which may include video). */
  inputDurationSeconds: number | undefined;
  /** How much audio was encoded (the final progress `out_time`). */
  outputDurationSeconds: number;
  elapsedMs: number;
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

  constructor(
    code: string,
    message: string,
    retryable: boolean,
    run: {
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      stderrTail: string;
      command: readonly string[];
      cause?: unknown;
    },
  ) {
    super(code, message, retryable ? 503 : 422, retryable, { cause: run.cause });
    this.exitCode = run.exitCode;
    this.signal = run.signal;
    this.stderrTail = run.stderrTail;
    this.command = run.command;
  }
}

/** The command line after the binary; exported for unit tests. */
export function mp3Arguments(
  job: Pick<Mp3Job, 'input' | 'output' | 'options' | 'title'>,
): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    // info prints the input header (its Duration line) and the errors we classify.
    '-loglevel',
    'info',
    '-y',
    ...inputArguments(job.input),
    // The first audio stream only; -vn -sn -dn: no video frame is ever decoded.
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    '-map_metadata',
    '-1',
    // No -ac: libmp3lame declares mono and stereo, and ffmpeg's filter graph downmixes 5.1 to
    // stereo and keeps mono mono. The sample rate is kept when MP3 has it and otherwise
    // becomes the nearest listed one (96 kHz → 48 kHz, 8 kHz → 16 kHz): LAME would take 8 to
    // 12 kHz, but those are MPEG 2.5, outside the MP3 standard, refused by some players, with
    // frames so long that the reported duration is off by a third of a second.
    '-af',
    'aformat=sample_rates=16000|22050|24000|32000|44100|48000',
    '-c:a',
    'libmp3lame',
    ...qualityArguments(job.options),
    '-id3v2_version',
    '3',
    '-metadata',
    `title=${job.title}`,
    '-f',
    'mp3',
    '-progress',
    'pipe:1',
    asFileUrl(job.output),
  ];
}

// `file:` makes a path that starts with "-" or looks like a protocol ("http:...") a plain path.
function asFileUrl(path: string): string {
  return `file:${path}`;
}

/**
 * The demuxers ffmpeg may use: containers of audio and video that people upload. Playlists
 * and manifests (HLS, DASH, ffconcat, IMF), which name other URLs for ffmpeg to open, are not
 * among them: an uploaded playlist must not read other files of this machine, nor any URL
 * when the input is HTTP. A file of some other format fails with "Format ... not on
 * whitelist": NOT_MEDIA.
 */
export const INPUT_FORMATS = [
  ...['mov', 'matroska', 'avi', 'flv', 'asf', 'mpeg', 'mpegts', 'ogg', 'nut', 'mxf', 'dv'],
  ...['rm', 'wtv', 'gxf', 'wav', 'w64', 'aiff', 'caf', 'au', 'voc', 'xwma', 'mp3', 'aac'],
  ...['loas', 'ac3', 'eac3', 'dts', 'dtshd', 'truehd', 'mlp', 'flac', 'amr', 'ape', 'tta'],
  ...['wv', 'mpc', 'mpc8', 'tak', 'oma', 'dsf'],
] as const;

function inputArguments(input: string | URL): string[] {
  const formats = ['-format_whitelist', INPUT_FORMATS.join(',')];
  if (typeof input === 'string') {
    return [...formats, '-protocol_whitelist', 'file', '-i', asFileUrl(input)];
  }
  if (input.protocol !== 'http:' || input.hostname !== '127.0.0.1') {
    throw new RangeError(
      `input URL must be http://127.0.0.1/..., got ${input.protocol}//${input.host}`,
    );
  }
  // An http_proxy in the environment must not take a loopback request (and its secret path)
  // elsewhere: an empty proxy option overrides the variable.
  return [...formats, '-protocol_whitelist', 'http,tcp', '-http_proxy', '', '-i', input.href];
}

function qualityArguments(options: ConversionOptions): string[] {
  if (options.vbr_quality !== undefined) {
    const quality = options.vbr_quality;
    if (!Number.isInteger(quality) || quality < 0 || quality > 9) {
      throw new RangeError(`VBR quality must be an integer from 0 to 9, got ${quality}`);
    }
    return ['-q:a', String(quality)];
  }
  const kbps = options.bitrate_kbps;
  if (!Number.isInteger(kbps) || kbps < 8 || kbps > 320) {
    throw new RangeError(`MP3 bitrate must be an integer from 8 to 320 kbps, got ${kbps}`);
  }
  return ['-b:a', `${kbps}k`];
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
const PROGRESS_INTERVAL_MS = 250;
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
        new FfmpegError('FFMPEG_UNAVAILABLE', 'the converter is not available right now', true, {
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
          reject(
            new FfmpegError(
              'CONVERSION_TIMED_OUT',
              'the conversion took too long and was stopped',
              false,
              run,
            ),
          );
          return;
        case undefined:
          break;
      }
      const outcome = {
        exitCode,
        signal,
        markers: stderr.markers,
        inputDurationSeconds: stderr.inputDurationSeconds,
        outputDurationSeconds: progress.lastSeconds,
      };
      const failure = classifyFailure(outcome);
      if (failure !== undefined) {
        reject(new FfmpegError(failure.code, failure.message, failure.retryable, run));
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

// ---------------------------------------------------------------------------------------------
// Reading ffmpeg's output; pure, exported for unit tests

/** What stderr lines tell us; matched only on lines that start in column 0 (see StderrLog). */
export type StderrMarker =
  | 'noSpace'
  | 'noMemory'
  | 'writeFailed'
  | 'signalled'
  | 'misdetected'
  | 'truncated'
  | 'noAudio'
  | 'emptyOutput'
  | 'unreadable';

const MARKERS: readonly (readonly [StderrMarker, RegExp])[] = [
  ['noSpace', /No space left on device|Disk quota exceeded/],
  ['noMemory', /Cannot allocate memory/],
  ['writeFailed', /^Error writing trailer|Error muxing a packet|av_interleaved_write_frame\(\)/],
  // ffmpeg exits 255 after SIGTERM/SIGINT from someone else (e.g. a container runtime).
  ['signalled', /received signal \d+/],
  // Garbage named *.mp4 is handed to the MP4 demuxer on the extension alone, which then
  // says "moov atom not found" just as for a real, truncated MP4: this tells them apart.
  ['misdetected', /misdetection possible/],
  // The demuxer ran out of data that its index or header promised. MP4 with moov at the
  // end: "moov atom not found"; MP4 with moov first: "partial file" / "Packet corrupt" (and
  // ffmpeg exits 0); Matroska/WebM: "File ended prematurely"; a cut MP4 index: "atom
  // truncated", "reached eof", "End of file". A truncated AVI says nothing: without its
  // index at the end it just reads as a shorter file.
  [
    'truncated',
    /moov atom not found|partial file|File ended prematurely|Packet corrupt|corrupt input packet|atom truncated|reached eof|: End of file$/,
  ],
  ['noAudio', /matches no streams|does not contain any stream/],
  ['emptyOutput', /Output file is empty, nothing was encoded/],
  [
    'unreadable',
    /Invalid data found when processing input|Could not find codec parameters|not on whitelist/,
  ],
];

const TAIL_LINES = 20;
const TAIL_BYTES = 4096;

/** The bounded tail of stderr, the input duration from its header, and the markers seen. */
export class StderrLog {
  readonly markers = new Set<StderrMarker>();
  /** Seconds; undefined while unknown, or when the header says "Duration: N/A". */
  inputDurationSeconds: number | undefined;
  durationLineSeen = false;
  readonly #lines: string[] = [];
  #bytes = 0;

  push(line: string): void {
    this.#lines.push(line);
    this.#bytes += line.length + 1;
    while (
      this.#lines.length > TAIL_LINES ||
      (this.#bytes > TAIL_BYTES && this.#lines.length > 1)
    ) {
      this.#bytes -= (this.#lines.shift()?.length ?? 0) + 1;
    }
    if (!this.durationLineSeen) {
      const duration = parseDurationLine(line);
      if (duration !== undefined) {
        this.durationLineSeen = true;
        this.inputDurationSeconds = duration ?? undefined;
      }
    }
    // ffmpeg indents everything it prints from the file itself (metadata tags, stream
    // titles), so a tag cannot fake a marker; its own messages start in column 0.
    if (/^\s/.test(line)) return;
    for (const [marker, pattern] of MARKERS) {
      if (pattern.test(line)) this.markers.add(marker);
    }
  }

  tail(): string {
    const text = this.#lines.join('\n');
    return text.length > TAIL_BYTES ? text.slice(-TAIL_BYTES) : text;
  }
}

/**
 * The input header's "  Duration: 00:01:02.50, start: ..." line: seconds, or null for
 * "Duration: N/A"; undefined for any other line.
 */
export function parseDurationLine(line: string): number | null | undefined {
  // Exactly two spaces: metadata lines, which the file controls, are indented further.
  const match = /^ {2}Duration: (?:(\d+):(\d{2}):(\d{2}(?:\.\d+)?)|(N\/A))/.exec(line);
  if (match === null) return undefined;
  if (match[4] !== undefined) return null;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

/** Parses `-progress` output: key=value lines, each block ended by `progress=continue|end`. */
export class ProgressParser {
  /** The latest out_time in seconds (never negative), undefined before the first. */
  lastSeconds: number | undefined;
  #blockSeconds: number | undefined;

  /** Returns the block a `progress=` line completes, else undefined. */
  push(line: string): { seconds: number | undefined; end: boolean } | undefined {
    const equals = line.indexOf('=');
    if (equals < 0) return undefined;
    const key = line.slice(0, equals);
    const value = line.slice(equals + 1).trim();
    switch (key) {
      case 'out_time_us':
      case 'out_time_ms': {
        // Both are microseconds (out_time_ms too, a long-standing ffmpeg quirk).
        const microseconds = Number(value);
        if (value !== '' && Number.isFinite(microseconds)) this.#blockSeconds = microseconds / 1e6;
        return undefined;
      }
      case 'out_time': {
        if (this.#blockSeconds !== undefined) return undefined;
        const seconds = parseClock(value);
        if (seconds !== undefined) this.#blockSeconds = seconds;
        return undefined;
      }
      case 'progress': {
        const seconds =
          this.#blockSeconds === undefined ? undefined : Math.max(0, this.#blockSeconds);
        this.#blockSeconds = undefined;
        if (seconds !== undefined) this.lastSeconds = seconds;
        return { seconds, end: value === 'end' };
      }
      default:
        return undefined;
    }
  }
}

function parseClock(value: string): number | undefined {
  const match = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value);
  if (match === null) return undefined;
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
  return match[1] === '-' ? -seconds : seconds;
}

/**
 * Passes progress on at most every PROGRESS_INTERVAL_MS, and always the final report;
 * `seconds` never decreases, `fraction` is clamped to 0..1. Throws what `onProgress` throws.
 */
export class ProgressReporter {
  readonly #onProgress: NonNullable<Mp3Job['onProgress']>;
  readonly #now: () => number;
  #lastAt = -Infinity;
  #seconds = 0;

  constructor(
    onProgress: NonNullable<Mp3Job['onProgress']>,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#onProgress = onProgress;
    this.#now = now;
  }

  report(seconds: number, durationSeconds: number | undefined, final: boolean): void {
    const now = this.#now();
    if (!final && now - this.#lastAt < PROGRESS_INTERVAL_MS) return;
    this.#lastAt = now;
    this.#seconds = Math.max(this.#seconds, seconds);
    const fraction =
      durationSeconds === undefined || !(durationSeconds > 0)
        ? undefined
        : Math.min(1, Math.max(0, this.#seconds / durationSeconds));
    this.#onProgress({ seconds: this.#seconds, fraction });
  }
}

const MAX_LINE_LENGTH = 8192;

/** Splits a text stream into lines (\n, \r\n or \r), cutting absurdly long lines short. */
export class LineSplitter {
  readonly #onLine: (line: string) => void;
  #pending = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: string): void {
    const parts = (this.#pending + chunk).split(/\r\n|\r|\n/);
    this.#pending = (parts.pop() ?? '').slice(0, MAX_LINE_LENGTH);
    for (const line of parts) this.#onLine(line.slice(0, MAX_LINE_LENGTH));
  }

  end(): void {
    if (this.#pending !== '') this.#onLine(this.#pending);
    this.#pending = '';
  }
}

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

const NOT_MEDIA = {
  code: 'NOT_MEDIA',
  message: 'the file is not a video or audio file that can be read',
  retryable: false,
};
const TRUNCATED = {
  code: 'TRUNCATED_MEDIA',
  message: 'the file is incomplete or damaged (was it cut off?)',
  retryable: false,
};

/** Why a run that was not stopped by us failed, or undefined if it succeeded. */
export function classifyFailure(
  outcome: RunOutcome,
): { code: string; message: string; retryable: boolean } | undefined {
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
