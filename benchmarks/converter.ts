// The converter's speed and memory, as numbers rather than a timed test: its whole path for one
// 10-minute video against a bare ffmpeg run on the same file, its peak memory, and how
// throughput scales from one converter process to two. Needs the local servers and ffmpeg
// (scripts/bench starts and installs them). Usage: node benchmarks/converter.ts
// Human-readable lines as it goes; the last stdout line is one JSON object with every number.
//
// benchmarks/all.ts (what ./scripts/bench runs) spreads its result into one JSON with the
// others'; convertOnce is exported for benchmarks/original.ts. The general tools (scratch
// directory and processes, CPU and memory readings, statistics) are in benchmarks/lib/.

import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConverterTestSystem,
  type ConverterProcess,
  type SubmitOptions,
} from '../services/converter/test/support.ts';
import { bareFfmpeg } from './lib/bare-ffmpeg.ts';
import { logLine, type Log } from './lib/log.ts';
import { CLIP_SECONDS, VIDEO_SECONDS, generateMedia } from './lib/media.ts';
import {
  USER_HZ,
  cpuSnapshot,
  cpuTicks,
  idleCpuPercent,
  otherCpuPercent,
  procStatusKiB,
  watchChildrenPeak,
  type CpuSnapshot,
} from './lib/resources.ts';
import { withScratch } from './lib/scratch.ts';
import { MiB, median, round, seconds } from './lib/stats.ts';

/** Every number this benchmark produces (seconds, MiB, ratios), flat so that others can be added. */
export interface ConverterBenchmarkResult {
  ffmpeg_path: string;
  ffmpeg_version: string;
  /** Idle CPU over 2 s before the start; other work on the machine skews every number. */
  cpu_idle_before_percent: number;
  /** The machine's CPU used by neither this benchmark (with its processes) nor the servers. */
  other_cpu_percent_convert: number;
  other_cpu_percent_scaling: number;
  generate_seconds: number;
  video_seconds: number;
  video_mib: number;
  audio_seconds: number;
  runs: number;
  /** Publish of the `video` message → job `done` with its MP3 stored (median of `runs`). */
  convert_seconds: number;
  convert_seconds_runs: number[];
  /** The same end as the benchmark saw it: the converter's 'conversion finished' log line. */
  convert_seen_seconds: number;
  /** Publish → job claimed by the converter (queueing, delivery, claim). */
  converter_queue_seconds: number;
  /** The converter's own timing of the job: finding the video, ffmpeg, storing the MP3, `done`. */
  converter_total_seconds: number;
  /** The converter's ffmpeg alone, reading the video from GridFS as it goes. */
  converter_ffmpeg_seconds: number;
  /** convert_seconds minus the converter's ffmpeg, per run: what the converter adds. */
  converter_overhead_seconds: number;
  ffmpeg_cli_seconds: number;
  ffmpeg_cli_seconds_runs: number[];
  /** Median over the runs of each converter run / the bare ffmpeg run right after it. */
  convert_vs_ffmpeg_ratio: number;
  convert_vs_ffmpeg_ratio_runs: number[];
  converter_ready_rss_mib: number;
  converter_peak_rss_mib: number;
  /** Sampled every 100 ms, so a lower bound. */
  ffmpeg_peak_rss_mib: number;
  scaling_jobs: number;
  clip_seconds: number;
  clip_mib: number;
  scaling_seconds_1: number;
  scaling_seconds_2: number;
  jobs_per_minute_1: number;
  jobs_per_minute_2: number;
  converter_scaling_2v1: number;
  /** The machine's own ceiling: the bare ffmpeg command on the same clips, 2 at a time vs 1. */
  ffmpeg_cli_jobs_per_minute_1: number;
  ffmpeg_cli_jobs_per_minute_2: number;
  ffmpeg_cli_scaling_2v1: number;
}

const SCALING_JOBS = 8;
const RUNS = 5;

type Job = NonNullable<Awaited<ReturnType<ConverterTestSystem['jobs']['findAny']>>>;
type Publish = ConverterTestSystem['amqp']['publish'];
type ConversionOptions = NonNullable<SubmitOptions['options']>;

export async function runConverterBenchmark(log: Log = logLine): Promise<ConverterBenchmarkResult> {
  return withScratch(async (scratch) => {
    const { children } = scratch;
    const quietStart = await cpuSnapshot();
    await sleep(2000);
    const quietEnd = await cpuSnapshot();
    const idleBefore = idleCpuPercent(quietStart, quietEnd);
    log(
      `idle CPU before the start: ${idleBefore.toFixed(0)}%` +
        (idleBefore < 90 ? ' (the machine is busy: every number below is skewed)' : ''),
    );
    const dir = (scratch.dir = await mkdtemp(join(tmpdir(), 'mp3test-bench-')));
    const generateStarted = performance.now();
    const media = await generateMedia(dir, children);
    const generateSeconds = seconds(generateStarted);
    const videoMiB = (await stat(media.video)).size / MiB;
    const clipMiB = (await stat(media.clip)).size / MiB;
    log(
      `generated a ${VIDEO_SECONDS / 60}-minute 1280x720 30 fps H.264 + AAC video (${videoMiB.toFixed(0)} MiB)` +
        ` and a ${CLIP_SECONDS / 60}-minute clip (${clipMiB.toFixed(0)} MiB) in ${generateSeconds.toFixed(1)} s`,
    );

    const system = (scratch.system = await ConverterTestSystem.start());
    const other = (phase: string, before: CpuSnapshot, after: CpuSnapshot): number => {
      const percent = otherCpuPercent(before, after);
      if (percent >= 5) {
        log(`other work took ${percent.toFixed(0)}% of the machine's CPU during ${phase}: skewed`);
      }
      return percent;
    };
    const convertStart = await cpuSnapshot();

    // Converter and bare ffmpeg alternate, so that neither always runs on warmer caches.
    const converterRuns: ConverterRun[] = [];
    const cliRuns: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const converted = await convertOnce(system, media.video);
      converterRuns.push(converted);
      const cli = await bareFfmpeg(converted.ffmpegPath, media.video, dir, 1, 1, children);
      cliRuns.push(cli);
      log(
        `run ${run}/${RUNS}: converter ${converted.seconds.toFixed(2)} s` +
          ` (queue ${converted.queueSeconds.toFixed(2)},` +
          ` ffmpeg ${converted.ffmpegSeconds.toFixed(2)},` +
          ` rest of the job ${(converted.totalSeconds - converted.ffmpegSeconds).toFixed(2)}),` +
          ` peak rss ${converted.peakRssMiB.toFixed(0)} MiB;  bare ffmpeg ${cli.toFixed(2)} s`,
      );
    }
    const first = converterRuns[0];
    if (first === undefined) throw new Error('no converter run');
    const otherDuringConvert = other('the 10-minute runs', convertStart, await cpuSnapshot());

    const scalingStart = await cpuSnapshot();
    const one = await throughput(system, media.clip, 1);
    log(
      `1 converter:  ${SCALING_JOBS} jobs in ${one.seconds.toFixed(2)} s = ${one.jobsPerMinute.toFixed(1)} jobs/min`,
    );
    const two = await throughput(system, media.clip, 2);
    log(
      `2 converters: ${SCALING_JOBS} jobs in ${two.seconds.toFixed(2)} s = ${two.jobsPerMinute.toFixed(1)} jobs/min` +
        ` (jobs per process: ${two.perProcess.join(' + ')})`,
    );
    const cliOne = await bareFfmpeg(first.ffmpegPath, media.clip, dir, SCALING_JOBS, 1, children);
    const cliTwo = await bareFfmpeg(first.ffmpegPath, media.clip, dir, SCALING_JOBS, 2, children);
    log(
      `bare ffmpeg on the same ${SCALING_JOBS} clips: ${cliOne.toFixed(2)} s one at a time,` +
        ` ${cliTwo.toFixed(2)} s two at a time (the machine's own scaling: ${(cliOne / cliTwo).toFixed(2)})`,
    );
    const otherDuringScaling = other('the scaling runs', scalingStart, await cpuSnapshot());

    const convertSeconds = median(converterRuns.map((run) => run.seconds));
    const cliSeconds = median(cliRuns);
    return {
      ffmpeg_path: first.ffmpegPath,
      ffmpeg_version: first.ffmpegVersion,
      cpu_idle_before_percent: round(idleBefore, 1),
      other_cpu_percent_convert: round(otherDuringConvert, 1),
      other_cpu_percent_scaling: round(otherDuringScaling, 1),
      generate_seconds: round(generateSeconds, 2),
      video_seconds: VIDEO_SECONDS,
      video_mib: round(videoMiB, 1),
      audio_seconds: round(first.audioSeconds, 2),
      runs: RUNS,
      convert_seconds: round(convertSeconds, 3),
      convert_seconds_runs: converterRuns.map((run) => round(run.seconds, 3)),
      convert_seen_seconds: round(median(converterRuns.map((run) => run.seenSeconds)), 3),
      converter_queue_seconds: round(median(converterRuns.map((run) => run.queueSeconds)), 3),
      converter_total_seconds: round(median(converterRuns.map((run) => run.totalSeconds)), 3),
      converter_ffmpeg_seconds: round(median(converterRuns.map((run) => run.ffmpegSeconds)), 3),
      converter_overhead_seconds: round(
        median(converterRuns.map((run) => run.seconds - run.ffmpegSeconds)),
        3,
      ),
      ffmpeg_cli_seconds: round(cliSeconds, 3),
      ffmpeg_cli_seconds_runs: cliRuns.map((run) => round(run, 3)),
      // Each converter run against the bare run right after it: this machine's speed drifts by
      // 10 to 20% over a minute (the same ffmpeg command took 9.2 to 12.2 s), which a ratio of
      // two medians taken minutes apart would carry.
      convert_vs_ffmpeg_ratio: round(
        median(converterRuns.map((run, n) => run.seconds / (cliRuns[n] ?? Number.NaN))),
        3,
      ),
      convert_vs_ffmpeg_ratio_runs: converterRuns.map((run, n) =>
        round(run.seconds / (cliRuns[n] ?? Number.NaN), 3),
      ),
      converter_ready_rss_mib: round(Math.max(...converterRuns.map((run) => run.readyRssMiB)), 1),
      converter_peak_rss_mib: round(Math.max(...converterRuns.map((run) => run.peakRssMiB)), 1),
      ffmpeg_peak_rss_mib: round(Math.max(...converterRuns.map((run) => run.ffmpegPeakRssMiB)), 1),
      scaling_jobs: SCALING_JOBS,
      clip_seconds: CLIP_SECONDS,
      clip_mib: round(clipMiB, 1),
      scaling_seconds_1: round(one.seconds, 3),
      scaling_seconds_2: round(two.seconds, 3),
      jobs_per_minute_1: round(one.jobsPerMinute, 2),
      jobs_per_minute_2: round(two.jobsPerMinute, 2),
      converter_scaling_2v1: round(two.jobsPerMinute / one.jobsPerMinute, 3),
      ffmpeg_cli_jobs_per_minute_1: round((SCALING_JOBS / cliOne) * 60, 2),
      ffmpeg_cli_jobs_per_minute_2: round((SCALING_JOBS / cliTwo) * 60, 2),
      ffmpeg_cli_scaling_2v1: round(cliOne / cliTwo, 3),
    };
  });
}

// ------------------------------------------------------------------------------ measurements

export interface ConverterRun {
  seconds: number;
  seenSeconds: number;
  queueSeconds: number;
  totalSeconds: number;
  ffmpegSeconds: number;
  audioSeconds: number;
  readyRssMiB: number;
  peakRssMiB: number;
  ffmpegPeakRssMiB: number;
  /** User + system CPU of the converter and its ffmpeg, publish → 'conversion finished'. */
  cpuSeconds: number;
  mp3Bytes: number;
  ffmpegPath: string;
  ffmpegVersion: string;
}

/**
 * One job on a fresh converter process, ready before the message goes out. The clock starts
 * just before the publish (the upload happened before, see `stage`) and stops at the job's
 * `finishedAt`, which the converter writes in the same update that makes the job `done`, after
 * its MP3 is stored. Both are this machine's clock; neither depends on a polling interval.
 */
export async function convertOnce(
  system: ConverterTestSystem,
  video: string,
  options?: ConversionOptions,
): Promise<ConverterRun> {
  const staged = await stage(system, video, 'ten-minutes.mp4', options);
  const converter = await system.spawnConverter();
  try {
    const pid = converter.child.pid;
    if (pid === undefined) throw new Error('the converter has no pid');
    const found = await converter.waitForLog('ffmpeg found');
    const readyRss = await procStatusKiB(pid, 'VmRSS');
    const ffmpegPeak = watchChildrenPeak(pid);
    // The converter reaps its ffmpeg before it stores the MP3, so cutime + cstime hold it.
    const cpuBefore = await cpuTicks(pid, true);
    const publishedAt = Date.now();
    const started = performance.now();
    await staged.publish();
    const [finished] = await waitForFinished([converter], 1, 10 * 60_000);
    const seenSeconds = seconds(started);
    const cpuAfter = await cpuTicks(pid, true);
    const peakRss = await procStatusKiB(pid, 'VmHWM');
    const ffmpegPeakKiB = await ffmpegPeak.stop();
    const job = await doneJob(system, staged.jobId);
    return {
      seconds: (finishedAt(job) - publishedAt) / 1000,
      seenSeconds,
      queueSeconds: ((job.startedAt?.getTime() ?? Number.NaN) - publishedAt) / 1000,
      totalSeconds: Number(finished?.totalMs) / 1000,
      ffmpegSeconds: Number(finished?.ffmpegMs) / 1000,
      audioSeconds: job.mp3?.durationSeconds ?? Number.NaN,
      readyRssMiB: readyRss / 1024,
      peakRssMiB: peakRss / 1024,
      ffmpegPeakRssMiB: ffmpegPeakKiB / 1024,
      cpuSeconds: (cpuAfter - cpuBefore) / USER_HZ,
      mp3Bytes: job.mp3?.size ?? Number.NaN,
      ffmpegPath: String(found.path),
      ffmpegVersion: String(found.version),
    };
  } finally {
    await stopConverter(converter);
  }
}

/**
 * SCALING_JOBS copies of the clip on `processes` fresh converters. All videos are uploaded and
 * their jobs created first (nothing converts yet: their messages are held, see `stage`); then
 * the converters start, and once every one of them is ready the messages are published. The
 * clock runs from the first publish to the last job's `finishedAt`, so neither uploads nor
 * process starts are inside it, and no converter gets a head start.
 */
async function throughput(
  system: ConverterTestSystem,
  clip: string,
  processes: number,
): Promise<{ seconds: number; jobsPerMinute: number; perProcess: number[] }> {
  const staged: Staged[] = [];
  for (let n = 1; n <= SCALING_JOBS; n++) staged.push(await stage(system, clip, `clip-${n}.mp4`));
  const converters = await Promise.all(
    Array.from({ length: processes }, () => system.spawnConverter()),
  );
  try {
    const publishedAt = Date.now();
    for (const job of staged) await job.publish();
    await waitForFinished(converters, SCALING_JOBS, 10 * 60_000);
    const jobs = await Promise.all(staged.map((job) => doneJob(system, job.jobId)));
    const elapsed = (Math.max(...jobs.map(finishedAt)) - publishedAt) / 1000;
    const perProcess = converters.map(
      (converter) => converter.logs.filter((line) => line.msg === 'conversion finished').length,
    );
    return { seconds: elapsed, jobsPerMinute: (SCALING_JOBS / elapsed) * 60, perProcess };
  } finally {
    await Promise.all(converters.map(stopConverter));
  }
}

// ------------------------------------------------------------------------------ helpers

interface Staged {
  jobId: string;
  publish(): Promise<void>;
}

/**
 * system.submit() with its publish held back: the video goes into GridFS and the job is
 * created `queued` now, exactly as submit does it; its `video` message is published (and
 * confirmed) when `publish()` is called. This keeps the upload, which the gateway finishes
 * before it publishes too, out of the timed windows without copying submit.
 */
async function stage(
  system: ConverterTestSystem,
  path: string,
  filename: string,
  options?: ConversionOptions,
): Promise<Staged> {
  const amqp = system.amqp;
  const publish = amqp.publish.bind(amqp);
  let held: (() => Promise<unknown>) | undefined;
  const hold: Publish = (queue, message, options) => {
    held = () => publish(queue, message, options);
    return Promise.resolve({ messageId: options?.messageId ?? '', correlationId: '' });
  };
  amqp.publish = hold;
  let jobId: string;
  try {
    jobId = await system.submit(path, options === undefined ? { filename } : { filename, options });
  } finally {
    Reflect.deleteProperty(amqp, 'publish'); // back to the class's method
  }
  const release = held;
  if (release === undefined) throw new Error('submit() published nothing');
  return {
    jobId,
    publish: async () => {
      await release();
    },
  };
}

/**
 * Resolves with the 'conversion finished' log lines once `count` have been logged across
 * `converters`; rejects as soon as one of them logs an error or a failed conversion, or exits.
 * Reads the logs the test harness already collects: no polling of the database.
 */
async function waitForFinished(
  converters: ConverterProcess[],
  count: number,
  timeoutMs: number,
): Promise<Record<string, unknown>[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const lines = converters.flatMap((converter) => converter.logs);
    const bad = lines.find(
      (line) =>
        line.msg === 'conversion failed' || line.level === 'error' || line.level === 'fatal',
    );
    if (bad !== undefined) throw new Error(`a converter logged: ${JSON.stringify(bad)}`);
    const finished = lines.filter((line) => line.msg === 'conversion finished');
    if (finished.length >= count) return finished;
    if (converters.some(({ child }) => child.exitCode !== null || child.signalCode !== null)) {
      throw new Error('a converter exited during the benchmark');
    }
    if (performance.now() > deadline) {
      throw new Error(`${finished.length} of ${count} conversions finished in ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

async function doneJob(system: ConverterTestSystem, jobId: string): Promise<Job> {
  const job = await system.jobs.findAny(jobId);
  if (job?.status !== 'done') {
    throw new Error(`job ${jobId} is ${job?.status ?? 'gone'}: ${JSON.stringify(job?.error)}`);
  }
  return job;
}

function finishedAt(job: Job): number {
  if (job.finishedAt === undefined) throw new Error(`job ${job._id} is done without finishedAt`);
  return job.finishedAt.getTime();
}

/** SIGTERM, as Kubernetes stops a pod; SIGKILL if it is not gone within 20 s. */
async function stopConverter(converter: ConverterProcess): Promise<void> {
  const { child } = converter;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.race([converter.exited, sleep(20_000, undefined, { ref: false })]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await converter.exited;
}

if (import.meta.main) {
  const result = await runConverterBenchmark();
  console.log(JSON.stringify(result));
}
