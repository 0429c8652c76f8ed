// The original project's conversion step against the converter, on the same files: its
// converter's per-message code (benchmarks/original/convert.py: the whole video read from
// GridFS into memory, written to a temp file, MoviePy 1.x's `write_audiofile` at its defaults,
// 128 kbit/s CBR at 44.1 kHz, the MP3 read back whole and stored in GridFS) against the
// converter's whole path at `{ bitrate_kbps: 128 }` (publish → job `done`). Time, CPU (user +
// system of every process of each) and peak memory, on the 10-minute video and the 2-minute
// clip of benchmarks/lib/media.ts, the two alternating, RUNS each, each pair followed by the bare
// ffmpeg command at 128 kbit/s: the ceiling of the converter's speed-up.
//
// MoviePy and pymongo are installed from PyPI (benchmarks/original/requirements.txt, pinned)
// into a throwaway virtualenv each time: with pip's cache that takes about 15 s, and nothing
// outlives the run. Needs the local servers, ffmpeg and python3 with venv (scripts/bench sees
// to all three). Usage: node benchmarks/original.ts [VIDEO CLIP]
// (two files of your own instead of the generated ones). The last stdout line is one JSON object.

import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { testServers } from '@mp3converter/testkit';
import { ConverterTestSystem } from '@mp3converter/converter/testing';
import { convertOnce, type ConverterRun } from './converter.ts';
import { bareFfmpeg } from './lib/bare-ffmpeg.ts';
import { logLine, type Log } from './lib/log.ts';
import { generateMedia } from './lib/media.ts';
import { run } from './lib/processes.ts';
import { cpuSnapshot, otherCpuPercent, watchChildrenPeak } from './lib/resources.ts';
import { withScratch } from './lib/scratch.ts';
import { MiB, median, round, seconds } from './lib/stats.ts';

/** Every number of this comparison, flat, so that it joins benchmarks/converter.ts's JSON. */
export interface OriginalBenchmarkResult {
  original_python_version: string;
  original_moviepy_version: string;
  original_imageio_ffmpeg_version: string;
  /** The ffmpeg MoviePy ran: imageio-ffmpeg's bundled binary, its default. */
  original_ffmpeg_path: string;
  original_ffmpeg_version: string;
  /** Creating the virtualenv and installing into it (not part of any other number). */
  original_setup_seconds: number;
  original_runs: number;
  original_video_mib: number;
  original_clip_mib: number;
  /** The CPU share other work took during the runs: above a few %, every number is skewed. */
  other_cpu_percent_original: number;
  /** The original's step on the 10-minute video: GridFS read → MP3 stored (median). */
  original_seconds: number;
  original_seconds_runs: number[];
  /** Its phases: GridFS → memory → temp file; MoviePy (open, write_audiofile); MP3 → GridFS. */
  original_fetch_seconds: number;
  original_moviepy_seconds: number;
  original_store_seconds: number;
  /** The converter on the same video at 128 kbit/s: publish → job `done` (median). */
  converter_seconds_128k: number;
  converter_seconds_128k_runs: number[];
  /** Median of each original run / the converter run right after it. */
  vs_original_speedup: number;
  vs_original_speedup_runs: number[];
  /** The converter's ffmpeg with its options at 128 kbit/s on the local file, after each pair. */
  ffmpeg_cli_seconds_128k: number;
  /** Median of original / bare ffmpeg, paired: the most vs_original_speedup could be. */
  ffmpeg_cli_vs_original_speedup: number;
  ffmpeg_cli_vs_original_speedup_runs: number[];
  /** User + system CPU: python and the ffmpeg processes MoviePy spawns. */
  original_cpu_seconds: number;
  original_cpu_seconds_runs: number[];
  /** User + system CPU: the converter process and its ffmpeg, publish → 'conversion finished'. */
  converter_cpu_seconds_128k: number;
  converter_cpu_seconds_128k_runs: number[];
  /** Median of the paired ratios original CPU / converter CPU. */
  vs_original_cpu_ratio: number;
  vs_original_cpu_ratio_runs: number[];
  /** The python process (VmRSS, VmHWM), moviepy and numpy loaded (largest of the runs). */
  original_ready_rss_mib: number;
  original_peak_rss_mib: number;
  /** The largest of MoviePy's ffmpeg processes, sampled every 100 ms (a lower bound). */
  original_ffmpeg_peak_rss_mib: number;
  converter_peak_rss_mib_128k: number;
  /** The converter's ffmpeg, sampled every 100 ms (a lower bound). */
  converter_ffmpeg_peak_rss_mib_128k: number;
  /** Size × 8 / duration of the MP3s: both should be 128 kbit/s (plus a few bytes of tags). */
  original_mp3_kbps: number;
  converter_mp3_kbps_128k: number;
  /** The same on the 2-minute clip: whether the original's memory grows with the file. */
  original_clip_seconds: number;
  converter_clip_seconds_128k: number;
  vs_original_speedup_clip: number;
  ffmpeg_cli_vs_original_speedup_clip: number;
  original_clip_cpu_seconds: number;
  converter_clip_cpu_seconds_128k: number;
  vs_original_cpu_ratio_clip: number;
  original_clip_peak_rss_mib: number;
  converter_clip_peak_rss_mib_128k: number;
  /** The whole of this comparison, set-up included. */
  original_benchmark_seconds: number;
}

const RUNS = 3;
const BITRATE_KBPS = 128; // MoviePy's default: ffmpeg's libmp3lame without -b:a
const HERE = fileURLToPath(new URL('original/', import.meta.url));
const SCRIPT = join(HERE, 'convert.py');
const REQUIREMENTS = join(HERE, 'requirements.txt');

/** What convert.py prints as its last line. */
interface OriginalReport {
  seconds: number;
  fetch_seconds: number;
  moviepy_seconds: number;
  store_seconds: number;
  cpu_seconds: number;
  ready_rss_kib: number;
  peak_rss_kib: number;
  children_left: number;
  mp3_bytes: number;
  python_version: string;
  moviepy_version: string;
  imageio_ffmpeg_version: string;
  ffmpeg_path: string;
  ffmpeg_version: string;
}

interface Media {
  video: string;
  clip: string;
}

interface OriginalRun extends OriginalReport {
  ffmpegPeakRssMiB: number;
}

interface Pair {
  original: OriginalRun;
  converter: ConverterRun;
  /** The bare ffmpeg command at 128 kbit/s. */
  cli: number;
}

export async function runOriginalBenchmark(
  log: Log = logLine,
  { media }: { media?: Media } = {},
): Promise<OriginalBenchmarkResult> {
  const started = performance.now();
  return withScratch(async (scratch) => {
    const { children } = scratch;
    const dir = (scratch.dir = await mkdtemp(join(tmpdir(), 'mp3test-original-')));
    const setupStarted = performance.now();
    const python = await createVirtualenv(join(dir, 'venv'), children);
    const setupSeconds = seconds(setupStarted);
    log(
      `original: MoviePy and pymongo installed in a throwaway virtualenv in ${setupSeconds.toFixed(1)} s`,
    );
    // tempfile's directory for the original's temp video and MP3, removed with `dir`.
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    // PATH only: MoviePy's FFMPEG_BINARY and imageio's IMAGEIO_FFMPEG_EXE stay unset, so
    // MoviePy uses imageio-ffmpeg's bundled ffmpeg, as the original did.
    const env = { PATH: process.env.PATH ?? '', TMPDIR: tmp };

    const files = media ?? (await generateMedia(dir, children));
    const videoMiB = (await stat(files.video)).size / MiB;
    const clipMiB = (await stat(files.clip)).size / MiB;
    // Stopped with the scratch, which drops its databases: the original's files and MP3s too.
    const converters = (scratch.system = await ConverterTestSystem.start());
    const { videos, mp3s } = converters.databases;
    // Stored as the original's gateway stored uploads (pymongo's GridFS put, 255 KiB chunks).
    const put = async (path: string): Promise<string> =>
      (
        await run(python, [SCRIPT, 'put', testServers.mongoUrl, videos, path], children, { env })
      ).trim();
    const fids = { video: await put(files.video), clip: await put(files.clip) };

    const original = async (fid: string): Promise<OriginalRun> => {
      let ffmpegPeak: ReturnType<typeof watchChildrenPeak> | undefined;
      const stdout = await run(
        python,
        [SCRIPT, 'convert', testServers.mongoUrl, videos, mp3s, fid],
        children,
        {
          env,
          spawned: (child) => {
            if (child.pid !== undefined) ffmpegPeak = watchChildrenPeak(child.pid);
          },
        },
      );
      const ffmpegPeakKiB = (await ffmpegPeak?.stop()) ?? Number.NaN;
      const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as OriginalReport;
      if (report.children_left !== 0) {
        log(`original: ${report.children_left} of MoviePy's ffmpeg processes outlived the step`);
      }
      return { ...report, ffmpegPeakRssMiB: ffmpegPeakKiB / 1024 };
    };
    const compare = async (what: string, path: string, fid: string): Promise<Pair[]> => {
      const pairs: Pair[] = [];
      for (let n = 1; n <= RUNS; n++) {
        // Alternating, so that the machine's drift (10-20% a minute) hits both alike.
        const o = await original(fid);
        const c = await convertOnce(converters, path, { bitrate_kbps: BITRATE_KBPS });
        const cli = await bareFfmpeg(c.ffmpegPath, path, tmp, 1, 1, children, BITRATE_KBPS);
        pairs.push({ original: o, converter: c, cli });
        log(
          `${what}, run ${n}/${RUNS}: original ${o.seconds.toFixed(2)} s` +
            ` (cpu ${o.cpu_seconds.toFixed(2)} s, peak rss ${(o.peak_rss_kib / 1024).toFixed(0)} MiB);` +
            `  converter at ${BITRATE_KBPS}k ${c.seconds.toFixed(2)} s` +
            ` (cpu ${c.cpuSeconds.toFixed(2)} s, peak rss ${c.peakRssMiB.toFixed(0)} MiB);` +
            `  bare ffmpeg ${cli.toFixed(2)} s`,
        );
      }
      return pairs;
    };

    const before = await cpuSnapshot();
    const clip = await compare(`clip (${clipMiB.toFixed(0)} MiB)`, files.clip, fids.clip);
    const video = await compare(`video (${videoMiB.toFixed(0)} MiB)`, files.video, fids.video);
    const otherPercent = otherCpuPercent(before, await cpuSnapshot());
    if (otherPercent >= 5) {
      log(
        `other work took ${otherPercent.toFixed(0)}% of the machine's CPU during these runs: skewed`,
      );
    }

    const first = video[0]?.original;
    if (first === undefined) throw new Error('no run of the original');
    const kbps = (bytes: number, pair: Pair): number =>
      (bytes * 8) / pair.converter.audioSeconds / 1000;
    const result: OriginalBenchmarkResult = {
      original_python_version: first.python_version,
      original_moviepy_version: first.moviepy_version,
      original_imageio_ffmpeg_version: first.imageio_ffmpeg_version,
      original_ffmpeg_path: first.ffmpeg_path,
      original_ffmpeg_version: first.ffmpeg_version,
      original_setup_seconds: round(setupSeconds, 1),
      original_runs: RUNS,
      original_video_mib: round(videoMiB, 1),
      original_clip_mib: round(clipMiB, 1),
      other_cpu_percent_original: round(otherPercent, 1),
      original_seconds: medianOf(video, (p) => p.original.seconds),
      original_seconds_runs: runsOf(video, (p) => p.original.seconds),
      original_fetch_seconds: medianOf(video, (p) => p.original.fetch_seconds),
      original_moviepy_seconds: medianOf(video, (p) => p.original.moviepy_seconds),
      original_store_seconds: medianOf(video, (p) => p.original.store_seconds),
      converter_seconds_128k: medianOf(video, (p) => p.converter.seconds),
      converter_seconds_128k_runs: runsOf(video, (p) => p.converter.seconds),
      vs_original_speedup: medianOf(video, speedup),
      vs_original_speedup_runs: runsOf(video, speedup),
      ffmpeg_cli_seconds_128k: medianOf(video, (p) => p.cli),
      ffmpeg_cli_vs_original_speedup: medianOf(video, cliSpeedup),
      ffmpeg_cli_vs_original_speedup_runs: runsOf(video, cliSpeedup),
      original_cpu_seconds: medianOf(video, (p) => p.original.cpu_seconds),
      original_cpu_seconds_runs: runsOf(video, (p) => p.original.cpu_seconds),
      converter_cpu_seconds_128k: medianOf(video, (p) => p.converter.cpuSeconds),
      converter_cpu_seconds_128k_runs: runsOf(video, (p) => p.converter.cpuSeconds),
      vs_original_cpu_ratio: medianOf(video, cpuRatio),
      vs_original_cpu_ratio_runs: runsOf(video, cpuRatio),
      original_ready_rss_mib: maxOf(video, (p) => p.original.ready_rss_kib / 1024),
      original_peak_rss_mib: maxOf(video, (p) => p.original.peak_rss_kib / 1024),
      original_ffmpeg_peak_rss_mib: maxOf(video, (p) => p.original.ffmpegPeakRssMiB),
      converter_peak_rss_mib_128k: maxOf(video, (p) => p.converter.peakRssMiB),
      converter_ffmpeg_peak_rss_mib_128k: maxOf(video, (p) => p.converter.ffmpegPeakRssMiB),
      original_mp3_kbps: medianOf(video, (p) => kbps(p.original.mp3_bytes, p)),
      converter_mp3_kbps_128k: medianOf(video, (p) => kbps(p.converter.mp3Bytes, p)),
      original_clip_seconds: medianOf(clip, (p) => p.original.seconds),
      converter_clip_seconds_128k: medianOf(clip, (p) => p.converter.seconds),
      vs_original_speedup_clip: medianOf(clip, speedup),
      ffmpeg_cli_vs_original_speedup_clip: medianOf(clip, cliSpeedup),
      original_clip_cpu_seconds: medianOf(clip, (p) => p.original.cpu_seconds),
      converter_clip_cpu_seconds_128k: medianOf(clip, (p) => p.converter.cpuSeconds),
      vs_original_cpu_ratio_clip: medianOf(clip, cpuRatio),
      original_clip_peak_rss_mib: maxOf(clip, (p) => p.original.peak_rss_kib / 1024),
      converter_clip_peak_rss_mib_128k: maxOf(clip, (p) => p.converter.peakRssMiB),
      original_benchmark_seconds: 0,
    };
    log(
      `video: the converter is ${result.vs_original_speedup.toFixed(2)} times as fast` +
        ` as the original (bare ffmpeg ${result.ffmpeg_cli_vs_original_speedup.toFixed(2)} times)` +
        ` and uses 1/${result.vs_original_cpu_ratio.toFixed(2)} of its CPU;` +
        ` peak rss ${result.converter_peak_rss_mib_128k.toFixed(0)} MiB against the original's` +
        ` ${result.original_peak_rss_mib.toFixed(0)} (${result.original_clip_peak_rss_mib.toFixed(0)}` +
        ` on the clip, the converter's ${result.converter_clip_peak_rss_mib_128k.toFixed(0)})`,
    );
    result.original_benchmark_seconds = round(seconds(started), 1);
    return result;
  });
}

/** A virtualenv with benchmarks/original/requirements.txt from PyPI; resolves its python. */
async function createVirtualenv(venv: string, children: Set<ChildProcess>): Promise<string> {
  try {
    await run('python3', ['-m', 'venv', venv], children);
  } catch (error) {
    throw new Error('python3 -m venv failed: install python3 and python3-venv', { cause: error });
  }
  const python = join(venv, 'bin', 'python');
  await run(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS],
    children,
  );
  return python;
}

const speedup = (pair: Pair): number => pair.original.seconds / pair.converter.seconds;
const cliSpeedup = (pair: Pair): number => pair.original.seconds / pair.cli;
const cpuRatio = (pair: Pair): number => pair.original.cpu_seconds / pair.converter.cpuSeconds;

function medianOf(pairs: Pair[], value: (pair: Pair) => number): number {
  return round(median(pairs.map(value)), 3);
}

function runsOf(pairs: Pair[], value: (pair: Pair) => number): number[] {
  return pairs.map((pair) => round(value(pair), 3));
}

function maxOf(pairs: Pair[], value: (pair: Pair) => number): number {
  return round(Math.max(...pairs.map(value)), 1);
}

if (import.meta.main) {
  const [video, clip] = process.argv.slice(2);
  const media = video !== undefined && clip !== undefined ? { video, clip } : undefined;
  const result = await runOriginalBenchmark(logLine, media === undefined ? {} : { media });
  console.log(JSON.stringify(result));
}
