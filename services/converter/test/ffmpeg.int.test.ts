import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  generateMedia,
  probeMedia,
  truncateFile,
  waitFor,
  type AudioSpec,
  type MediaSpec,
} from '@mp3converter/testkit';
import {
  FfmpegError,
  FfmpegUnusableError,
  checkFfmpeg,
  convertToMp3,
  locateFfmpeg,
  type FfmpegBinary,
  type Mp3Job,
  type Mp3Result,
} from '../src/ffmpeg/index.ts';

const run = promisify(execFile);
const installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string };

let dir: string;
let ffmpeg: FfmpegBinary;
let fileNumber = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3converter-ffmpeg-test-'));
  ffmpeg = await checkFfmpeg(locateFfmpeg(undefined, process.env.PATH ?? ''));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh path in the test directory. */
function pathFor(name: string): string {
  return join(dir, `${++fileNumber}-${name}`);
}

async function convert(
  input: string,
  job: Partial<Mp3Job> = {},
  binary: Pick<FfmpegBinary, 'path'> = ffmpeg,
): Promise<{ result: Mp3Result; output: string }> {
  const output = job.output ?? pathFor('out.mp3');
  const result = await convertToMp3(binary, {
    input,
    output,
    options: { bitrate_kbps: 128 },
    title: 'a title',
    ...job,
  });
  return { result, output };
}

/** The conversion's rejection, checked to be an FfmpegError. */
async function conversionError(
  input: string,
  job: Partial<Mp3Job> = {},
  binary: Pick<FfmpegBinary, 'path'> = ffmpeg,
): Promise<FfmpegError> {
  try {
    await convert(input, job, binary);
  } catch (error) {
    assert.ok(error instanceof FfmpegError, `not an FfmpegError: ${String(error)}`);
    return error;
  }
  assert.fail('the conversion succeeded');
}

/** ffmpeg processes (any binary) whose command line names `path`. */
async function processesNaming(path: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (argv.includes(`file:${path}`)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function mkfifo(name: string): Promise<string> {
  const path = pathFor(name);
  await run('mkfifo', [path]);
  return path;
}

/**
 * Writes `data` into a FIFO a piece at a time, as a slow network would, and keeps the FIFO
 * open after `stallAfter` of it until `close()`: ffmpeg then waits for more.
 */
function feedFifo(
  fifo: string,
  data: Buffer,
  { pieces = 20, intervalMs = 100, stallAfter = 1 } = {},
): { close: () => Promise<void> } {
  const state: { handle?: FileHandle; opened: boolean; closed: boolean } = {
    opened: false,
    closed: false,
  };
  const done = (async () => {
    const handle = await open(fifo, 'w');
    state.handle = handle;
    state.opened = true;
    const stallAt = Math.floor(pieces * stallAfter);
    for (let piece = 0; piece < stallAt && !state.closed; piece++) {
      const chunk = data.subarray(
        Math.floor((data.length * piece) / pieces),
        Math.floor((data.length * (piece + 1)) / pieces),
      );
      await handle.write(chunk);
      // Pacing, not a wait: the input arrives slowly, as over a slow network.
      await sleep(intervalMs);
    }
    if (stallAt >= pieces) {
      delete state.handle;
      await handle.close();
    }
  })().catch((error: unknown) => {
    // The reader is gone (killed or done): what a real pipe would see too.
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  });
  return {
    close: async () => {
      state.closed = true;
      if (!state.opened) {
        // Nobody opened the reading end: open it ourselves so the writer's open returns.
        const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        await reader.close();
      }
      await done;
      await state.handle?.close();
    },
  };
}

/** 20 s of mono 8 kHz PCM in Matroska: its header states the duration, and it streams. */
async function streamableAudio(): Promise<Buffer> {
  const path = pathFor('stream.mkv');
  await generateMedia(path, {
    container: 'mkv',
    seconds: 20,
    video: false,
    audio: { channels: 1, sampleRate: 8000, codec: 'pcm_s16le' },
  });
  return readFile(path);
}

describe('convertToMp3', () => {
  const CONTAINERS: [string, MediaSpec][] = [
    ['an MP4 with its index at the end', { container: 'mp4', seconds: 3 }],
    ['an MP4 with its index first (faststart)', { container: 'mp4', seconds: 3, faststart: true }],
    ['a MOV', { container: 'mov', seconds: 3 }],
    ['an MKV', { container: 'mkv', seconds: 3 }],
    ['a WebM', { container: 'webm', seconds: 3 }],
    ['an AVI', { container: 'avi', seconds: 3 }],
  ];
  for (const [name, spec] of CONTAINERS) {
    it(`converts ${name} to a stereo MP3 of the same duration`, async () => {
      const input = pathFor(`input.${spec.container}`);
      await generateMedia(input, spec);
      const { result, output } = await convert(input);
      const probed = await probeMedia(output);
      assert.equal(probed.formatName, 'mp3');
      assert.deepEqual(
        probed.streams.map((stream) => [stream.codecName, stream.channels, stream.sampleRate]),
        [['mp3', 2, 44_100]],
      );
      assert.ok(Math.abs(probed.durationSeconds - 3) <= 0.2, `lasts ${probed.durationSeconds} s`);
      assert.ok(Math.abs(result.outputDurationSeconds - 3) <= 0.2, JSON.stringify(result));
      assert.ok(Math.abs((result.inputDurationSeconds ?? 0) - 3) <= 0.2, JSON.stringify(result));
      assert.ok(result.elapsedMs > 0);
    });
  }

  // PCM input, so the input's audio lasts exactly 3 s (AAC at 8 kHz adds 128 ms frames).
  const LAYOUTS: [string, AudioSpec, { channels: number; sampleRate: number }][] = [
    [
      'keeps mono as mono',
      { channels: 1, sampleRate: 44_100 },
      { channels: 1, sampleRate: 44_100 },
    ],
    [
      'downmixes 5.1 to stereo',
      { channels: 6, sampleRate: 48_000 },
      { channels: 2, sampleRate: 48_000 },
    ],
    [
      'resamples 8 kHz audio to 16 kHz, the least standard MP3 has',
      { channels: 1, sampleRate: 8000 },
      { channels: 1, sampleRate: 16_000 },
    ],
    [
      'resamples 96 kHz audio to 48 kHz, the most MP3 allows',
      { channels: 2, sampleRate: 96_000 },
      { channels: 2, sampleRate: 48_000 },
    ],
  ];
  for (const [behaviour, audio, expected] of LAYOUTS) {
    it(behaviour, async () => {
      const input = pathFor('input.mkv');
      await generateMedia(input, {
        container: 'mkv',
        seconds: 3,
        audio: { ...audio, codec: 'pcm_s16le' },
      });
      const { result, output } = await convert(input);
      const probed = await probeMedia(output);
      assert.deepEqual(
        probed.streams.map((stream) => ({
          codecName: stream.codecName,
          channels: stream.channels,
          sampleRate: stream.sampleRate,
        })),
        [{ codecName: 'mp3', ...expected }],
      );
      assert.ok(Math.abs(probed.durationSeconds - 3) <= 0.2, `lasts ${probed.durationSeconds} s`);
      assert.ok(Math.abs(result.outputDurationSeconds - 3) <= 0.2, JSON.stringify(result));
    });
  }

  it('encodes at the constant bitrate asked, or at a VBR quality, with the ID3 title', async () => {
    const input = pathFor('input.mp4');
    await generateMedia(input, { container: 'mp4', seconds: 3 });
    for (const kbps of [96, 320] as const) {
      const { output } = await convert(input, { options: { bitrate_kbps: kbps } });
      const probed = await probeMedia(output);
      assert.equal(probed.streams[0]?.bitRate, kbps * 1000);
    }
    const title = '-y Café "Live" – 1/2 \\ $HOME';
    const best = await convert(input, { options: { vbr_quality: 0 }, title });
    const smallest = await convert(input, { options: { vbr_quality: 9 } });
    const [bestProbe, smallestProbe] = await Promise.all([
      probeMedia(best.output),
      probeMedia(smallest.output),
    ]);
    assert.equal(bestProbe.tags.title, title);
    assert.equal(bestProbe.streams[0]?.codecName, 'mp3');
    assert.ok(
      (bestProbe.bitRate ?? 0) > 1.5 * (smallestProbe.bitRate ?? Infinity),
      `V0 ${bestProbe.bitRate} b/s, V9 ${smallestProbe.bitRate} b/s`,
    );
  });

  it('reports throttled, non-decreasing progress up to the whole input', async () => {
    const data = await streamableAudio();
    const fifo = await mkfifo('progress.fifo');
    // 20 s of audio arriving over ~2.5 s: ffmpeg reports progress as it goes.
    const feeder = feedFifo(fifo, data, { pieces: 25, intervalMs: 100 });
    const calls: { seconds: number; fraction: number | undefined; at: number }[] = [];
    const started = performance.now();
    try {
      const { result } = await convert(fifo, {
        timeLimitMs: () => 15_000,
        onProgress: (progress) => calls.push({ ...progress, at: performance.now() }),
      });
      const elapsed = performance.now() - started;
      assert.equal(result.inputDurationSeconds, 20);
      assert.ok(calls.length >= 3, `${calls.length} progress calls`);
      assert.ok(calls.length <= elapsed / 250 + 2, `${calls.length} calls in ${elapsed} ms`);
      for (const [index, call] of calls.entries()) {
        assert.ok(call.fraction !== undefined && call.fraction >= 0 && call.fraction <= 1);
        const previous = calls[index - 1];
        if (previous === undefined) continue;
        assert.ok(call.seconds >= previous.seconds && call.fraction >= previous.fraction!);
        // Only the final call may follow its predecessor sooner.
        if (index < calls.length - 1) assert.ok(call.at - previous.at >= 240);
      }
      assert.ok(calls.at(-1)!.fraction! >= 0.99, JSON.stringify(calls.at(-1)));
      assert.ok(calls.at(-1)!.seconds >= 19.9);
    } finally {
      await feeder.close();
    }
  });

  describe('rejects what it cannot convert, for good, with a message for the user', () => {
    const text = 'This is not a video.\nJust some text.\n'.repeat(200);
    const FAILURES: [string, string, string, (path: string) => Promise<void>][] = [
      ['a text file named .mp4', 'NOT_MEDIA', 'input.mp4', (path) => writeFile(path, text)],
      ['a text file without extension', 'NOT_MEDIA', 'input', (path) => writeFile(path, text)],
      ['an empty .mp4 file', 'NOT_MEDIA', 'input.mp4', (path) => writeFile(path, '')],
      ['an empty file without extension', 'NOT_MEDIA', 'input', (path) => writeFile(path, '')],
      [
        'random bytes named .mp4',
        'NOT_MEDIA',
        'input.mp4',
        (path) => writeFile(path, randomBytes(100_000)),
      ],
      [
        'random bytes without extension',
        'NOT_MEDIA',
        'input',
        (path) => writeFile(path, randomBytes(100_000)),
      ],
      [
        'a video without audio',
        'NO_AUDIO_TRACK',
        'input.mp4',
        (path) => generateMedia(path, { container: 'mp4', seconds: 2, audio: false }),
      ],
      [
        'a video whose audio track is empty',
        'NO_AUDIO_TRACK',
        'input.mkv',
        (path) =>
          generateMedia(path, {
            container: 'mkv',
            seconds: 2,
            audio: { channels: 2, sampleRate: 44_100, empty: true },
          }),
      ],
      [
        'an MP4 cut in half (index at the end, so lost)',
        'TRUNCATED_MEDIA',
        'input.mp4',
        async (path) => {
          await generateMedia(path, { container: 'mp4', seconds: 6 });
          await truncateFile(path, 0.5);
        },
      ],
      [
        'a faststart MP4 cut in half (ffmpeg converts the first half and exits 0)',
        'TRUNCATED_MEDIA',
        'input.mp4',
        async (path) => {
          await generateMedia(path, { container: 'mp4', seconds: 6, faststart: true });
          await truncateFile(path, 0.5);
        },
      ],
      [
        'an MKV cut in half',
        'TRUNCATED_MEDIA',
        'input.mkv',
        async (path) => {
          await generateMedia(path, { container: 'mkv', seconds: 6 });
          await truncateFile(path, 0.5);
        },
      ],
    ];
    const MESSAGES: Record<string, RegExp> = {
      NOT_MEDIA: /^the file is not a video or audio file that can be read$/,
      NO_AUDIO_TRACK: /^the file(’s audio track is empty| has no audio track)$/,
      TRUNCATED_MEDIA: /^the file is incomplete or damaged/,
    };
    for (const [name, code, fileName, make] of FAILURES) {
      it(`reports ${name} as ${code}`, async () => {
        const input = pathFor(fileName);
        await make(input);
        const error = await conversionError(input);
        assert.equal(error.code, code, error.stderrTail);
        assert.equal(error.retryable, false);
        assert.equal(error.status, 422);
        assert.match(error.message, MESSAGES[code]!);
        assert.ok(error.stderrTail.length > 0 && error.stderrTail.length <= 4096);
        assert.ok(error.stderrTail.split('\n').length <= 20);
        assert.equal(error.command[0], ffmpeg.path);
        assert.equal(error.command[error.command.indexOf('-i') + 1], `file:${input}`);
      });
    }

    it('converts a faststart MP4 missing only a moment at its end', async () => {
      const input = pathFor('input.mp4');
      await generateMedia(input, { container: 'mp4', seconds: 10, faststart: true });
      await truncateFile(input, 0.99);
      const { result } = await convert(input);
      assert.equal(result.inputDurationSeconds, 10);
      assert.ok(
        result.outputDurationSeconds > 9 && result.outputDurationSeconds < 10,
        JSON.stringify(result),
      );
    });

    it('never fetches the URLs a playlist names (NOT_MEDIA)', async () => {
      let requests = 0;
      const server = createServer((_request, response) => {
        requests++;
        response.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        const input = pathFor('playlist.mp4');
        await writeFile(
          input,
          `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:${port}/secret.ts\n#EXT-X-ENDLIST\n`,
        );
        const error = await conversionError(input);
        assert.equal(error.code, 'NOT_MEDIA');
        assert.match(error.stderrTail, /not on whitelist/);
        assert.equal(requests, 0);
      } finally {
        server.close();
      }
    });
  });

  describe('stops ffmpeg and leaves no process behind', () => {
    it('at the initial time limit, while the input header is still unread (CONVERSION_TIMED_OUT)', async () => {
      // Nobody writes to the FIFO: ffmpeg waits for the header forever.
      const fifo = await mkfifo('never.fifo');
      const durations: (number | undefined)[] = [];
      const started = performance.now();
      const conversion = conversionError(fifo, {
        initialTimeLimitMs: 500,
        timeLimitMs: (seconds) => (durations.push(seconds), 60_000),
      });
      await waitFor(async () => (await processesNaming(fifo)).length > 0, { what: 'ffmpeg' });
      const error = await conversion;
      const elapsed = performance.now() - started;
      assert.equal(error.code, 'CONVERSION_TIMED_OUT');
      assert.equal(error.retryable, false);
      assert.equal(error.signal, 'SIGKILL');
      assert.ok(elapsed >= 500 && elapsed < 5000, `${elapsed} ms`);
      assert.deepEqual(durations, []);
      assert.deepEqual(await processesNaming(fifo), []);
    });

    it('at the time limit chosen from the input duration (CONVERSION_TIMED_OUT)', async () => {
      const data = await streamableAudio();
      const fifo = await mkfifo('stalled.fifo');
      const feeder = feedFifo(fifo, data, { pieces: 20, intervalMs: 20, stallAfter: 0.25 });
      try {
        const durations: (number | undefined)[] = [];
        const started = performance.now();
        const error = await conversionError(fifo, {
          initialTimeLimitMs: 30_000,
          timeLimitMs: (seconds) => (durations.push(seconds), 1000),
        });
        const elapsed = performance.now() - started;
        assert.equal(error.code, 'CONVERSION_TIMED_OUT');
        assert.deepEqual(durations, [20]);
        assert.ok(elapsed >= 1000 && elapsed < 5000, `${elapsed} ms`);
        assert.deepEqual(await processesNaming(fifo), []);
      } finally {
        await feeder.close();
      }
    });

    it('when the signal aborts, rejecting with its reason', async () => {
      const data = await streamableAudio();
      const fifo = await mkfifo('aborted.fifo');
      // Fed for ~1.5 s, so ffmpeg reports progress, then stalled: only the abort can end it.
      const feeder = feedFifo(fifo, data, { pieces: 20, intervalMs: 100, stallAfter: 0.75 });
      try {
        const controller = new AbortController();
        const reason = new Error('the job was cancelled');
        // What ffmpeg processes ran when the signal aborted (or why that could not be seen).
        let running: Promise<unknown> = Promise.resolve('never aborted');
        await assert.rejects(
          convert(fifo, {
            signal: controller.signal,
            timeLimitMs: () => 15_000,
            onProgress: ({ seconds }) => {
              if (seconds <= 0 || controller.signal.aborted) return;
              running = processesNaming(fifo)
                .then((pids) => {
                  controller.abort(reason);
                  return pids.length;
                })
                .catch((error: unknown) => error);
            },
          }),
          (error) => error === reason,
        );
        assert.equal(await running, 1, 'ffmpeg was running when aborted');
        assert.deepEqual(await processesNaming(fifo), []);
      } finally {
        await feeder.close();
      }
    });

    it('does not start ffmpeg for an already aborted signal', async () => {
      const reason = new Error('shutting down');
      // Were it spawned, this binary would fail with FFMPEG_UNAVAILABLE instead.
      await assert.rejects(
        convert(pathFor('x.mp4'), { signal: AbortSignal.abort(reason) }, { path: pathFor('none') }),
        (error) => error === reason,
      );
    });
  });

  describe('reports failures that may pass as retryable', () => {
    it('FFMPEG_KILLED when ffmpeg dies by a signal it was not sent by us', async () => {
      const suicidal = pathFor('ffmpeg');
      await writeFile(suicidal, '#!/bin/sh\nkill -KILL $$\n');
      await chmod(suicidal, 0o755);
      const error = await conversionError(pathFor('input.mp4'), {}, { path: suicidal });
      assert.equal(error.code, 'FFMPEG_KILLED');
      assert.equal(error.retryable, true);
      assert.equal(error.signal, 'SIGKILL');
    });

    it('FFMPEG_KILLED when someone else stops ffmpeg with SIGTERM', async () => {
      const data = await streamableAudio();
      const fifo = await mkfifo('terminated.fifo');
      const feeder = feedFifo(fifo, data, { pieces: 40, intervalMs: 50 });
      try {
        // How many ffmpeg processes got SIGTERM (or why none could).
        let terminated: Promise<unknown> | undefined;
        const error = await conversionError(fifo, {
          timeLimitMs: () => 15_000,
          onProgress: ({ seconds }) => {
            if (seconds <= 0 || terminated !== undefined) return;
            terminated = processesNaming(fifo)
              .then((pids) => {
                for (const pid of pids) process.kill(pid, 'SIGTERM');
                return pids.length;
              })
              .catch((failure: unknown) => failure);
          },
        });
        assert.equal(await terminated, 1);
        assert.equal(error.code, 'FFMPEG_KILLED', error.stderrTail);
        assert.equal(error.retryable, true);
        assert.match(error.stderrTail, /received signal 15/);
      } finally {
        await feeder.close();
      }
    });

    it('OUT_OF_SPACE when the disk is full, although ffmpeg exits 0', async () => {
      const input = pathFor('input.mp4');
      await generateMedia(input, { container: 'mp4', seconds: 2 });
      const error = await conversionError(input, { output: '/dev/full' });
      assert.equal(error.code, 'OUT_OF_SPACE');
      assert.equal(error.retryable, true);
      assert.equal(error.status, 503);
    });

    it('FFMPEG_UNAVAILABLE when the binary cannot be started', async () => {
      const error = await conversionError(pathFor('input.mp4'), {}, { path: pathFor('missing') });
      assert.equal(error.code, 'FFMPEG_UNAVAILABLE');
      assert.equal(error.retryable, true);
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
    });
  });

  it('works with the @ffmpeg-installer/ffmpeg build too', async () => {
    const binary = await checkFfmpeg({ path: installer.path, source: '@ffmpeg-installer/ffmpeg' });
    const input = pathFor('input.mp4');
    await generateMedia(input, {
      container: 'mp4',
      seconds: 3,
      audio: { channels: 6, sampleRate: 96_000 },
    });
    const { result, output } = await convert(input, {}, binary);
    const probed = await probeMedia(output);
    assert.deepEqual(
      probed.streams.map((stream) => [stream.codecName, stream.channels, stream.sampleRate]),
      [['mp3', 2, 48_000]],
    );
    assert.ok(Math.abs(result.outputDurationSeconds - 3) <= 0.2);
    await generateMedia(input, { container: 'mp4', seconds: 6, faststart: true });
    await truncateFile(input, 0.5);
    assert.equal((await conversionError(input, {}, binary)).code, 'TRUNCATED_MEDIA');
  });
});

describe('locateFfmpeg', () => {
  let withFfmpeg: string;
  let withoutFfmpeg: string;
  let notExecutable: string;

  before(async () => {
    [withFfmpeg, withoutFfmpeg, notExecutable] = [
      pathFor('bin'),
      pathFor('empty'),
      pathFor('noexec'),
    ];
    for (const folder of [withFfmpeg, withoutFfmpeg, notExecutable]) await mkdir(folder);
    await writeFile(join(withFfmpeg, 'ffmpeg'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(notExecutable, 'ffmpeg'), '#!/bin/sh\n', { mode: 0o644 });
  });

  it('takes FFMPEG_PATH first, without looking further', () => {
    assert.deepEqual(locateFfmpeg('/opt/ffmpeg/bin/ffmpeg', withFfmpeg), {
      path: '/opt/ffmpeg/bin/ffmpeg',
      source: 'FFMPEG_PATH',
    });
  });

  it('else the first executable ffmpeg on the search path', () => {
    const searchPath = [withoutFfmpeg, notExecutable, withFfmpeg, '/usr/bin'].join(':');
    assert.deepEqual(locateFfmpeg(undefined, searchPath), {
      path: join(withFfmpeg, 'ffmpeg'),
      source: 'PATH',
    });
    assert.equal(locateFfmpeg('', searchPath).source, 'PATH');
  });

  it('else the @ffmpeg-installer/ffmpeg build', () => {
    assert.deepEqual(locateFfmpeg(undefined, [withoutFfmpeg, notExecutable, ''].join(':')), {
      path: installer.path,
      source: '@ffmpeg-installer/ffmpeg',
    });
  });
});

describe('checkFfmpeg', () => {
  it('resolves with the version of an ffmpeg that has libmp3lame', async () => {
    const binary = await checkFfmpeg({ path: '/usr/bin/ffmpeg', source: 'PATH' });
    assert.equal(binary.path, '/usr/bin/ffmpeg');
    assert.equal(binary.source, 'PATH');
    assert.match(binary.version, /^\d+\.\d+/);
  });

  async function rejection(path: string): Promise<FfmpegUnusableError> {
    try {
      await checkFfmpeg({ path, source: 'FFMPEG_PATH' });
    } catch (error) {
      assert.ok(error instanceof FfmpegUnusableError);
      assert.equal(error.name, 'FfmpegUnusableError');
      return error;
    }
    assert.fail(`${path} passed the check`);
  }

  it('rejects a path where there is no file', async () => {
    assert.match((await rejection(pathFor('nothing'))).message, /was not found/);
  });

  it('rejects a file that is not executable', async () => {
    const path = pathFor('ffmpeg');
    await writeFile(path, '#!/bin/sh\n', { mode: 0o644 });
    assert.match((await rejection(path)).message, /is not executable/);
  });

  it('rejects a program that is not ffmpeg', async () => {
    assert.match((await rejection('/bin/true')).message, /is not ffmpeg/);
  });

  it('rejects an ffmpeg without the libmp3lame encoder', async () => {
    const path = pathFor('ffmpeg');
    const encoders = ' A..... aac                  AAC (Advanced Audio Coding)\n';
    await writeFile(
      path,
      `#!/bin/sh\nif [ "$2" = -version ]; then echo 'ffmpeg version 9.9'; else printf '${encoders}'; fi\n`,
      { mode: 0o755 },
    );
    assert.match((await rejection(path)).message, /version 9\.9\) has no libmp3lame/);
  });
});
