// The whole system's numbers, as a benchmark rather than a timed test: one 1 GiB upload through
// the gateway into GridFS against the same file written by a bare `mongodb` driver script into
// the same server, and the latency from upload request to job `done` for twenty 10-second clips
// uploaded one after another, against a bare ffmpeg run on such a clip. The four services run
// as processes against a RabbitMQ node and a Mongo-wire server of the benchmark's own (the
// end-to-end tests' harness). Usage: node benchmarks/system.ts
// Human-readable lines as it goes; the last stdout line is one JSON object with every number.

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateMedia } from '@mp3converter/testkit';
import { EndToEndSystem } from '../tests/e2e/system.ts';
import { logLine, type Log } from './lib/log.ts';
import { procStatusKiB } from './lib/resources.ts';
import { MiB, percentile, round } from './lib/stats.ts';

const run = promisify(execFile);
const UPLOAD_MIB = 1024;
const CLIPS = 20;
const CLIP_SECONDS = 10;
const DRIVER_SCRIPT = fileURLToPath(new URL('./driver-upload.ts', import.meta.url));

export interface SystemBenchmarkResult {
  upload_mib: number;
  /** curl -F file=@… to the gateway's 202: the file streamed into GridFS `videos`. */
  upload_seconds: number;
  upload_mib_per_s: number;
  /** The gateway's peak resident memory over its life (VmHWM), the upload included. */
  upload_peak_rss_mib: number;
  upload_gateway_idle_rss_mib: number;
  /** The same file by a bare driver script (openUploadStream) into the same server. */
  driver_upload_seconds: number;
  driver_upload_mib_per_s: number;
  /** driver_upload_seconds / upload_seconds: 1 means the gateway adds nothing. */
  upload_vs_driver_ratio: number;
  e2e_clips: number;
  e2e_clip_seconds: number;
  /** Upload request → job `done` (MP3 stored), each clip after the previous one is done. */
  e2e_latency_ms_runs: number[];
  e2e_latency_p50_ms: number;
  e2e_latency_p95_ms: number;
  /** The converter's default command on one clip, bare (median of 5). */
  e2e_ffmpeg_cli_ms: number;
  /** p50 minus the bare ffmpeg time: what upload, queueing, GridFS and the services add. */
  e2e_overhead_ms: number;
}

export async function runSystemBenchmark(log: Log = logLine): Promise<SystemBenchmarkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'mp3test-bench-system-'));
  let system: EndToEndSystem | undefined;
  try {
    const big = join(dir, 'big.bin');
    const clip = join(dir, 'clip.mp4');
    // Random bytes: what is uploaded does not matter to the upload path, and nothing converts
    // it (no converter runs during the upload; the job is deleted right after).
    await run('bash', ['-c', `head -c ${UPLOAD_MIB}M /dev/urandom > "$1"`, 'bash', big]);
    await generateMedia(clip, { container: 'mp4', seconds: CLIP_SECONDS });

    system = await EndToEndSystem.start({
      converters: 0,
      env: { gateway: { MAX_UPLOAD_BYTES: String(2 * UPLOAD_MIB * MiB) } },
    });
    const user = await system.signUp();
    const pid = system.gateway.child.pid ?? 0;
    const idleRss = (await procStatusKiB(pid, 'VmRSS')) / 1024;

    const uploadStarted = performance.now();
    const { stdout } = await run(
      'curl',
      [
        ...['-sS', '-f', '-X', 'POST', '-H', `Authorization: Bearer ${user.token}`],
        ...['-F', `file=@${big};type=application/octet-stream`, `${system.url}/upload`],
      ],
      { maxBuffer: MiB },
    );
    const uploadSeconds = (performance.now() - uploadStarted) / 1000;
    const peakRss = (await procStatusKiB(pid, 'VmHWM')) / 1024;
    const { jobId } = JSON.parse(stdout) as { jobId: string };
    log(
      `upload of ${UPLOAD_MIB} MiB through the gateway: ${uploadSeconds.toFixed(2)} s = ` +
        `${(UPLOAD_MIB / uploadSeconds).toFixed(0)} MiB/s; gateway rss ${idleRss.toFixed(0)} MiB idle, ` +
        `${peakRss.toFixed(0)} MiB peak`,
    );
    const deleted = await fetch(`${system.url}/jobs/${jobId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${user.token}` },
    });
    if (!deleted.ok) throw new Error(`DELETE /jobs/${jobId}: HTTP ${deleted.status}`);

    const driverSeconds = await driverUpload(system.servers.mongoUrl, big);
    log(
      `the same file by a bare driver script: ${driverSeconds.toFixed(2)} s = ` +
        `${(UPLOAD_MIB / driverSeconds).toFixed(0)} MiB/s (ratio ${(driverSeconds / uploadSeconds).toFixed(2)})`,
    );
    await rm(big);

    await system.startConverter();
    const content = new Uint8Array(await readFile(clip));
    const latencies: number[] = [];
    for (let n = 0; n < CLIPS; n++) {
      const started = performance.now();
      const accepted = await system.accept(user, content, `clip-${n}.mp4`);
      await waitDone(system, accepted.jobId);
      latencies.push(performance.now() - started);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    const cli = await bareFfmpeg(clip, dir);
    log(
      `${CLIPS} ${CLIP_SECONDS}-second clips one after another, upload → done: p50 ${p50.toFixed(0)} ms,` +
        ` p95 ${p95.toFixed(0)} ms; bare ffmpeg on one clip ${cli.toFixed(0)} ms`,
    );
    return {
      upload_mib: UPLOAD_MIB,
      upload_seconds: round(uploadSeconds, 3),
      upload_mib_per_s: round(UPLOAD_MIB / uploadSeconds, 1),
      upload_peak_rss_mib: round(peakRss, 1),
      upload_gateway_idle_rss_mib: round(idleRss, 1),
      driver_upload_seconds: round(driverSeconds, 3),
      driver_upload_mib_per_s: round(UPLOAD_MIB / driverSeconds, 1),
      upload_vs_driver_ratio: round(driverSeconds / uploadSeconds, 3),
      e2e_clips: CLIPS,
      e2e_clip_seconds: CLIP_SECONDS,
      e2e_latency_ms_runs: latencies.map((ms) => Math.round(ms)),
      e2e_latency_p50_ms: Math.round(p50),
      e2e_latency_p95_ms: Math.round(p95),
      e2e_ffmpeg_cli_ms: Math.round(cli),
      e2e_overhead_ms: Math.round(p50 - cli),
    };
  } finally {
    await system?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls the job every 5 ms: the latency is measured to within that. */
async function waitDone(system: EndToEndSystem, jobId: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const job = await system.jobs.findAny(jobId);
    if (job?.status === 'done') return;
    if (job?.status === 'failed') throw new Error(`job ${jobId} failed: ${job.error?.message}`);
    if (performance.now() > deadline) throw new Error(`job ${jobId} not done within 60 s`);
    await sleep(5);
  }
}

/** The bare driver script in a process of its own; answers its own timing of the write. */
async function driverUpload(mongoUrl: string, path: string): Promise<number> {
  const { stdout } = await run(process.execPath, [DRIVER_SCRIPT, mongoUrl, path], {
    maxBuffer: MiB,
  });
  const last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { seconds?: number };
  return Number(last.seconds);
}

/** The converter's default command (CBR 192 kbit/s, first audio stream), median of 5 runs. */
async function bareFfmpeg(input: string, dir: string): Promise<number> {
  const runs: number[] = [];
  for (let n = 0; n < 5; n++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'ffmpeg',
        [
          ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', input],
          ...['-map', '0:a:0', '-vn', '-c:a', 'libmp3lame', '-b:a', '192k', join(dir, 'cli.mp3')],
        ],
        { stdio: 'ignore' },
      );
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`ffmpeg exited with ${code}`));
      });
    });
    runs.push(performance.now() - started);
  }
  return percentile(
    runs.sort((a, b) => a - b),
    50,
  );
}

if (import.meta.main) {
  const result = await runSystemBenchmark();
  console.log(JSON.stringify(result));
}
