// Reading what ffmpeg prints: stderr (the input header, errors) and `-progress pipe:1` on
// stdout. Pure; exported for unit tests.

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
 * `seconds` encoded so far; `fraction` is seconds / input duration, clamped to 0..1,
 * undefined when the duration is unknown.
 */
export type ProgressListener = (progress: {
  seconds: number;
  fraction: number | undefined;
}) => void;

const PROGRESS_INTERVAL_MS = 250;

/**
 * Passes progress on at most every PROGRESS_INTERVAL_MS, and always the final report;
 * `seconds` never decreases, `fraction` is clamped to 0..1. Throws what `onProgress` throws.
 */
export class ProgressReporter {
  readonly #onProgress: ProgressListener;
  readonly #now: () => number;
  #lastAt = -Infinity;
  #seconds = 0;

  constructor(onProgress: ProgressListener, now: () => number = performance.now.bind(performance)) {
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
