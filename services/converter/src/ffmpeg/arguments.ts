import type { ConversionOptions } from '@mp3converter/contracts';

/** What to convert, and into what: all that the command line depends on. */
export interface Mp3Target {
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
}

/** The command line after the binary. */
export function mp3Arguments(target: Mp3Target): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    // info prints the input header (its Duration line) and the errors we classify.
    '-loglevel',
    'info',
    '-y',
    ...inputArguments(target.input),
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
    ...qualityArguments(target.options),
    '-id3v2_version',
    '3',
    '-metadata',
    `title=${target.title}`,
    '-f',
    'mp3',
    '-progress',
    'pipe:1',
    asFileUrl(target.output),
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
