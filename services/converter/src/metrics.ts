import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How a message ended: `done` (MP3 stored), `failed` (the file cannot be converted, or the
 * retries ran out), `retried` (a failure on our side, tried again later), `skipped` (the job
 * was already finished, deleted or unknown).
 */
export type ConversionOutcome = 'done' | 'failed' | 'retried' | 'skipped';

/** The converter's Prometheus metrics, in a registry of its own, served on GET /metrics. */
export class ConverterMetrics {
  readonly registry = new Registry();
  readonly #conversions = new Counter({
    name: 'conversions_total',
    help: 'Video messages handled, by outcome: done, failed, retried, skipped',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly #seconds = new Histogram({
    name: 'conversion_duration_seconds',
    help: 'Time from taking a job to its MP3 stored (download, ffmpeg, upload), successful ones',
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200],
    registers: [this.registry],
  });
  readonly #audioSeconds = new Counter({
    name: 'audio_converted_seconds_total',
    help: 'Seconds of audio converted to MP3',
    registers: [this.registry],
  });
  readonly #realtime = new Histogram({
    name: 'conversion_realtime_factor',
    help: 'Seconds of audio converted per second of ffmpeg time (higher is faster)',
    buckets: [1, 5, 10, 25, 50, 100, 200, 400, 800],
    registers: [this.registry],
  });
  readonly #ffmpeg = new Gauge({
    name: 'ffmpeg_info',
    help: 'The ffmpeg the converter runs: version, path and how it was chosen (always 1)',
    labelNames: ['version', 'path', 'source'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of ['done', 'failed', 'retried', 'skipped'] as const) {
      this.#conversions.inc({ outcome }, 0);
    }
  }

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
