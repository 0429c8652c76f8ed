import { ServiceMetrics } from '@mp3converter/service';

/**
 * How a message ended: `done` (MP3 stored), `failed` (the file cannot be converted, or the
 * retries ran out), `retried` (a failure on our side, tried again later), `skipped` (the job
 * was already finished, deleted or unknown).
 */
export type ConversionOutcome = (typeof OUTCOMES)[number];
const OUTCOMES = ['done', 'failed', 'retried', 'skipped'] as const;

/** The converter's Prometheus metrics, served on GET /metrics. */
export class ConverterMetrics extends ServiceMetrics {
  readonly #conversions = this.counter(
    'conversions_total',
    'Video messages handled, by outcome: done, failed, retried, skipped',
    { outcome: OUTCOMES },
  );
  readonly #seconds = this.histogram(
    'conversion_duration_seconds',
    'Time from taking a job to its MP3 stored (download, ffmpeg, upload), successful ones',
    [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200],
  );
  readonly #audioSeconds = this.counter(
    'audio_converted_seconds_total',
    'Seconds of audio converted to MP3',
  );
  readonly #realtime = this.histogram(
    'conversion_realtime_factor',
    'Seconds of audio converted per second of ffmpeg time (higher is faster)',
    [1, 5, 10, 25, 50, 100, 200, 400, 800],
  );
  readonly #ffmpeg = this.gauge(
    'ffmpeg_info',
    'The ffmpeg the converter runs: version, path and how it was chosen (always 1)',
    { version: [], path: [], source: [] },
  );

  ffmpeg(binary: { version: string; path: string; source: string }): void {
    this.#ffmpeg.set({ version: binary.version, path: binary.path, source: binary.source }, 1);
  }

  outcome(outcome: ConversionOutcome): void {
    this.#conversions.inc({ outcome });
  }

  converted(totalSeconds: number, audioSeconds: number, ffmpegSeconds: number): void {
    this.#seconds.observe(totalSeconds);
    this.#audioSeconds.inc(audioSeconds);
    if (ffmpegSeconds > 0) this.#realtime.observe(audioSeconds / ffmpegSeconds);
  }
}
