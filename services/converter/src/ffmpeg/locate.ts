import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, resolve } from 'node:path';

export type FfmpegSource = 'FFMPEG_PATH' | 'PATH' | '@ffmpeg-installer/ffmpeg';

export interface FfmpegBinary {
  path: string;
  source: FfmpegSource;
  /** As ffmpeg prints it, e.g. "5.1.9-0+deb12u1". */
  version: string;
}

/** The ffmpeg found cannot be used: missing, not executable, not ffmpeg, or without libmp3lame. */
export class FfmpegUnusableError extends Error {
  override name = 'FfmpegUnusableError';
}

/**
 * FFMPEG_PATH if given; else the first executable `ffmpeg` in `searchPath`; else the build of
 * the @ffmpeg-installer/ffmpeg package (throws FfmpegUnusableError if that has none for this
 * platform). Does not run it: checkFfmpeg does.
 */
export function locateFfmpeg(
  configuredPath: string | undefined,
  /** The executable search path (PATH), from the service's config. */
  searchPath: string,
): { path: string; source: FfmpegSource } {
  if (configuredPath !== undefined && configuredPath !== '') {
    return { path: configuredPath, source: 'FFMPEG_PATH' };
  }
  const onPath = findExecutable('ffmpeg', searchPath);
  if (onPath !== undefined) return { path: onPath, source: 'PATH' };
  return { path: installerPath(), source: '@ffmpeg-installer/ffmpeg' };
}

function findExecutable(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    // An empty entry means the working directory: never look for binaries there.
    if (dir === '') continue;
    const candidate = resolve(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next directory.
    }
  }
  return undefined;
}

function installerPath(): string {
  // Loaded only when needed: the package throws (a bare string) at load time on platforms
  // it has no build for, which must not stop a converter that has its own ffmpeg.
  let installer: unknown;
  try {
    installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg');
  } catch (error) {
    throw new FfmpegUnusableError(
      `no ffmpeg: FFMPEG_PATH is not set, there is none on PATH, and @ffmpeg-installer/ffmpeg has no build here (${String(error)})`,
      { cause: error },
    );
  }
  const path = (installer as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') {
    throw new FfmpegUnusableError('@ffmpeg-installer/ffmpeg gave no path');
  }
  return path;
}

const CHECK_TIME_LIMIT_MS = 10_000;

/**
 * Runs `-version` and `-encoders`; resolves with the version if the binary runs and has the
 * libmp3lame encoder, else rejects with FfmpegUnusableError saying what is wrong.
 */
export async function checkFfmpeg(located: {
  path: string;
  source: FfmpegSource;
}): Promise<FfmpegBinary> {
  const what = `ffmpeg ${located.path} (from ${located.source})`;
  const versionText = await runForCheck(what, located.path, ['-hide_banner', '-version']);
  const version = /^ffmpeg version (\S+)/m.exec(versionText)?.[1];
  if (version === undefined) {
    throw new FfmpegUnusableError(`${what} is not ffmpeg: "-version" printed no ffmpeg version`);
  }
  const encoders = await runForCheck(what, located.path, ['-hide_banner', '-encoders']);
  if (!/^\s*A\S*\s+libmp3lame\s/m.test(encoders)) {
    throw new FfmpegUnusableError(`${what} (version ${version}) has no libmp3lame MP3 encoder`);
  }
  return { path: located.path, source: located.source, version };
}

function runForCheck(what: string, path: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      path,
      args,
      { timeout: CHECK_TIME_LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout) => {
        if (error === null) {
          resolvePromise(stdout);
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        const problem =
          code === 'ENOENT'
            ? 'was not found'
            : code === 'EACCES'
              ? 'is not executable'
              : error.killed
                ? `did not answer "${args.join(' ')}" within ${CHECK_TIME_LIMIT_MS / 1000} s`
                : `failed to run "${args.join(' ')}": ${error.message.split('\n')[0] ?? ''}`;
        reject(new FfmpegUnusableError(`${what} ${problem}`, { cause: error }));
      },
    );
  });
}
