// Running ffmpeg for the converter, one file per concern (as PeerTube's packages/ffmpeg):
// finding and checking the binary (locate), its command line (arguments), running it with
// progress and time limits (run), reading what it prints (output) and why it failed (failures).

export {
  FfmpegUnusableError,
  checkFfmpeg,
  locateFfmpeg,
  type FfmpegBinary,
  type FfmpegSource,
} from './locate.ts';
export { INPUT_FORMATS, mp3Arguments, type Mp3Target } from './arguments.ts';
export { convertToMp3, type Mp3Job, type Mp3Result } from './run.ts';
export { FfmpegError, type FfmpegFailure } from './failures.ts';
