// Test media generated with ffmpeg's lavfi sources (PeerTube's tests do the same): small,
// fast to make, with an exact audio duration. Uses the `ffmpeg` and `ffprobe` on PATH.

import { execFile } from 'node:child_process';
import { stat, truncate } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type MediaContainer = 'mp4' | 'mov' | 'mkv' | 'webm' | 'avi' | 'wav';

export interface AudioSpec {
  channels: 1 | 2 | 6;
  sampleRate: number;
  /** ffmpeg encoder; default per container (aac, libvorbis for webm, pcm_s16le for avi/wav). */
  codec?: string;
  /** A track that is declared but holds no audio at all. */
  empty?: boolean;
}

export interface MediaSpec {
  container: MediaContainer;
  /** Exact for the audio; the video lasts as long. */
  seconds: number;
  /** Default stereo 44.1 kHz; false: no audio track. */
  audio?: AudioSpec | false;
  /** Default true (160x120, 10 fps); wav has none. */
  video?: boolean;
  /** mp4/mov: moov atom at the start (`-movflags +faststart`). Default false: at the end. */
  faststart?: boolean;
}

const FORMATS: Record<MediaContainer, string> = {
  mp4: 'mp4',
  mov: 'mov',
  mkv: 'matroska',
  webm: 'webm',
  avi: 'avi',
  wav: 'wav',
};

const AUDIO_CODECS: Record<MediaContainer, string> = {
  mp4: 'aac',
  mov: 'aac',
  mkv: 'aac',
  // Vorbis takes any sample rate; Opus only 8/12/16/24/48 kHz.
  webm: 'libvorbis',
  avi: 'pcm_s16le',
  wav: 'pcm_s16le',
};

const VIDEO_CODECS: Record<MediaContainer, string[]> = {
  mp4: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
  mov: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
  mkv: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
  webm: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k'],
  avi: ['-c:v', 'mpeg4', '-q:v', '10'],
  wav: [],
};

const LAYOUTS: Record<AudioSpec['channels'], string> = { 1: 'mono', 2: 'stereo', 6: '5.1' };

/** Writes a media file to `path` (overwriting it). */
export async function generateMedia(path: string, spec: MediaSpec): Promise<void> {
  const audio: AudioSpec | false = spec.audio ?? { channels: 2, sampleRate: 44_100 };
  const video = spec.video ?? spec.container !== 'wav';
  if (video && spec.container === 'wav') throw new Error('a wav file cannot hold video');
  if (!video && audio === false) throw new Error('media needs audio or video');
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'];
  const maps: string[] = [];
  if (video) {
    args.push('-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10:duration=${spec.seconds}`);
    maps.push('-map', '0:v', ...VIDEO_CODECS[spec.container]);
  }
  if (audio !== false) {
    // A different tone per channel, so the channels can be told apart.
    const tones = Array.from(
      { length: audio.channels },
      (_, channel) => `0.2*sin(2*PI*${440 + 110 * channel}*t)`,
    );
    args.push(
      '-f',
      'lavfi',
      '-i',
      `aevalsrc=exprs=${tones.join('|')}:channel_layout=${LAYOUTS[audio.channels]}:sample_rate=${audio.sampleRate}:duration=${spec.seconds}`,
    );
    // The audio source is the second input when there is video.
    maps.push('-map', `${video ? 1 : 0}:a`, '-c:a', audio.codec ?? AUDIO_CODECS[spec.container]);
    if (audio.empty === true) maps.push('-frames:a', '0');
  }
  if (spec.faststart === true) maps.push('-movflags', '+faststart');
  await run('ffmpeg', [...args, ...maps, '-f', FORMATS[spec.container], `file:${path}`]);
}

export interface ProbedStream {
  codecType: string;
  codecName: string;
  channels?: number;
  sampleRate?: number;
  bitRate?: number;
}

export interface ProbedMedia {
  /** ffprobe's format name, e.g. "mp3" or "mov,mp4,m4a,3gp,3g2,mj2". */
  formatName: string;
  durationSeconds: number;
  bitRate?: number;
  /** The container's tags, e.g. `title`. */
  tags: Record<string, string>;
  streams: ProbedStream[];
}

interface FfprobeJson {
  format?: {
    format_name?: string;
    duration?: string;
    bit_rate?: string;
    tags?: Record<string, string>;
  };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    channels?: number;
    sample_rate?: string;
    bit_rate?: string;
  }[];
}

/** What ffprobe says about a file; rejects when ffprobe cannot read it. */
export async function probeMedia(path: string): Promise<ProbedMedia> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    `file:${path}`,
  ]);
  const probed = JSON.parse(stdout) as FfprobeJson;
  const format = probed.format ?? {};
  return {
    formatName: format.format_name ?? '',
    durationSeconds: Number(format.duration ?? Number.NaN),
    ...optionalNumber('bitRate', format.bit_rate),
    tags: format.tags ?? {},
    streams: (probed.streams ?? []).map((stream) => ({
      codecType: stream.codec_type ?? '',
      codecName: stream.codec_name ?? '',
      ...(stream.channels === undefined ? {} : { channels: stream.channels }),
      ...optionalNumber('sampleRate', stream.sample_rate),
      ...optionalNumber('bitRate', stream.bit_rate),
    })),
  };
}

function optionalNumber<K extends string>(
  key: K,
  value: string | undefined,
): Partial<Record<K, number>> {
  const number = Number(value);
  return value === undefined || !Number.isFinite(number)
    ? {}
    : ({ [key]: number } as Partial<Record<K, number>>);
}

/** Cuts a file to `fraction` (0..1) of its size, as an interrupted upload or copy would. */
export async function truncateFile(path: string, fraction: number): Promise<void> {
  const { size } = await stat(path);
  await truncate(path, Math.floor(size * fraction));
}
