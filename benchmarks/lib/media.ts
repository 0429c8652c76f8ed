// The benchmarks' test media, generated with ffmpeg into a directory of the caller's.

import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './processes.ts';

export const VIDEO_SECONDS = 600;
export const CLIP_SECONDS = 120;

/**
 * A 10-second 1280x720 30 fps H.264 segment of a moving test pattern at a phone-like
 * 2.5 Mbit/s, looped by stream copy under an AAC track encoded for the whole 2 minutes (pink
 * noise, different in each channel, plus a tone; a pure tone makes MP3 encoding unrealistically
 * cheap), then that clip looped 5 times by stream copy into the 10-minute video. Only 300
 * frames and 2 minutes of audio are ever encoded, yet the files have realistic sizes, which
 * matters: the converter downloads the whole video from GridFS and ffmpeg demuxes all of it.
 */
export async function generateMedia(
  dir: string,
  children: Set<ChildProcess>,
): Promise<{ clip: string; video: string }> {
  const quiet = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'];
  const segment = join(dir, 'segment.mp4');
  const clip = join(dir, 'clip.mp4');
  const video = join(dir, 'video.mp4');
  await run(
    'ffmpeg',
    [
      ...quiet,
      ...['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '10'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
      ...['-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', segment],
    ],
    children,
  );
  const noise = (seed: number): string =>
    `anoisesrc=color=pink:sample_rate=48000:amplitude=0.25:seed=${seed}`;
  const audio =
    `${noise(1)}[l];${noise(2)}[r];[l][r]join=inputs=2:channel_layout=stereo[noise];` +
    'sine=frequency=440:sample_rate=48000,volume=0.2,aformat=channel_layouts=stereo[tone];' +
    '[noise][tone]amix=inputs=2:normalize=0[audio]';
  await run(
    'ffmpeg',
    [
      ...quiet,
      ...['-stream_loop', '-1', '-i', segment, '-filter_complex', audio],
      ...['-map', '0:v', '-map', '[audio]', '-t', String(CLIP_SECONDS)],
      ...['-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k', clip],
    ],
    children,
  );
  const loops = VIDEO_SECONDS / CLIP_SECONDS - 1;
  await run(
    'ffmpeg',
    [...quiet, '-stream_loop', String(loops), '-i', clip, '-c', 'copy', video],
    children,
  );
  await rm(segment);
  return { clip, video };
}
