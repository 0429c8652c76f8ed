// The baseline of the converter's numbers: its ffmpeg command run bare on a local file.

import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from './processes.ts';
import { seconds } from './stats.ts';

/** The converter's options (CBR, 192 kbit/s by default; first audio stream). */
const bareArgs = (input: string, output: string, kbps: number): string[] => [
  ...['-hide_banner', '-nostdin', '-y', '-i', input],
  ...['-map', '0:a:0', '-vn', '-c:a', 'libmp3lame', '-b:a', `${kbps}k`, output],
];

/** Seconds for the bare ffmpeg command to convert the local file `jobs` times, `parallel` at a time. */
export async function bareFfmpeg(
  ffmpeg: string,
  video: string,
  dir: string,
  jobs: number,
  parallel: number,
  children: Set<ChildProcess>,
  kbps = 192,
): Promise<number> {
  let next = 0;
  const lane = async (n: number): Promise<void> => {
    const output = join(dir, `bare-${n}.mp3`);
    while (next < jobs) {
      next++; // taken before the await, so that the lanes share out exactly `jobs` runs
      await run(ffmpeg, bareArgs(video, output, kbps), children);
    }
    await rm(output, { force: true });
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, (_, n) => lane(n)));
  return seconds(started);
}
