import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mp3Arguments } from '../src/ffmpeg/arguments.ts';
import { classifyFailure, type RunOutcome } from '../src/ffmpeg/failures.ts';
import {
  LineSplitter,
  ProgressParser,
  ProgressReporter,
  StderrLog,
  parseDurationLine,
  type StderrMarker,
} from '../src/ffmpeg/output.ts';

describe('mp3Arguments', () => {
  const job = { input: '-i.mp4', output: '/tmp/out.mp3', title: 'My song' };

  it('reads the first audio stream only, through the file protocol, even for a path like an option', () => {
    const args = mp3Arguments({ ...job, options: { bitrate_kbps: 192 } });
    assert.equal(args[args.indexOf('-i') + 1], 'file:-i.mp4');
    assert.equal(args.at(-1), 'file:/tmp/out.mp3');
    assert.equal(args[args.indexOf('-map') + 1], '0:a:0');
    assert.equal(args[args.indexOf('-protocol_whitelist') + 1], 'file');
    assert.ok(args.indexOf('-protocol_whitelist') < args.indexOf('-i'));
    for (const flag of ['-vn', '-sn', '-dn', '-nostdin']) assert.ok(args.includes(flag), flag);
    assert.equal(args[args.indexOf('-progress') + 1], 'pipe:1');
  });

  it('asks for the constant bitrate or the VBR quality, and sets the ID3v2.3 title', () => {
    const cbr = mp3Arguments({ ...job, options: { bitrate_kbps: 96 } });
    assert.equal(cbr[cbr.indexOf('-b:a') + 1], '96k');
    assert.ok(!cbr.includes('-q:a'));
    const vbr = mp3Arguments({ ...job, options: { vbr_quality: 0 } });
    assert.equal(vbr[vbr.indexOf('-q:a') + 1], '0');
    assert.ok(!vbr.includes('-b:a'));
    assert.equal(vbr[vbr.indexOf('-metadata') + 1], 'title=My song');
    assert.equal(vbr[vbr.indexOf('-id3v2_version') + 1], '3');
    assert.equal(vbr[vbr.indexOf('-map_metadata') + 1], '-1');
  });

  it('refuses options outside what LAME takes', () => {
    assert.throws(() => mp3Arguments({ ...job, options: { vbr_quality: 10 } }), RangeError);
    assert.throws(() => mp3Arguments({ ...job, options: { vbr_quality: 1.5 } }), RangeError);
    // @ts-expect-error -- a bitrate the contract does not allow
    assert.throws(() => mp3Arguments({ ...job, options: { bitrate_kbps: 1000 } }), RangeError);
  });
});

describe('parseDurationLine', () => {
  it('reads the input header duration', () => {
    assert.equal(
      parseDurationLine('  Duration: 00:00:10.02, start: 0.000000, bitrate: 131 kb/s'),
      10.02,
    );
    assert.equal(parseDurationLine('  Duration: 02:01:03.50, start: 0.000000'), 7263.5);
    assert.equal(parseDurationLine('  Duration: N/A, bitrate: 128 kb/s'), null);
  });

  it('ignores other lines, including metadata the file controls', () => {
    assert.equal(parseDurationLine('    DURATION        : 00:00:20.000000000'), undefined);
    assert.equal(parseDurationLine('    comment         :   Duration: 99:00:00.00'), undefined);
    assert.equal(parseDurationLine('Duration: 00:00:01.00'), undefined);
  });
});

describe('ProgressParser', () => {
  it('gives the out_time of each block, in microseconds whichever key carries it', () => {
    const parser = new ProgressParser();
    const lines = [
      'bitrate=N/A',
      'out_time_us=N/A',
      'out_time_ms=N/A',
      'out_time=N/A',
      'progress=continue',
      'out_time_us=-66125',
      'out_time=-00:00:00.066125',
      'progress=continue',
      'out_time_ms=3605875',
      'out_time=00:00:03.605875',
      'progress=continue',
      'out_time=00:01:00.500000',
      'progress=continue',
      'out_time_us=20021875',
      'out_time_ms=20021875',
      'progress=end',
    ];
    const blocks = lines.map((line) => parser.push(line)).filter((block) => block !== undefined);
    assert.deepEqual(blocks, [
      { seconds: undefined, end: false },
      { seconds: 0, end: false },
      { seconds: 3.605875, end: false },
      { seconds: 60.5, end: false },
      { seconds: 20.021875, end: true },
    ]);
    assert.equal(parser.lastSeconds, 20.021875);
  });
});

describe('ProgressReporter', () => {
  it('passes on at most one report every 250 ms, plus the final one, never going back', () => {
    let now = 0;
    const calls: { seconds: number; fraction: number | undefined }[] = [];
    const reporter = new ProgressReporter(
      (progress) => calls.push(progress),
      () => now,
    );
    for (let step = 0; step <= 20; step++) {
      now = step * 100;
      reporter.report(step === 9 ? 2 : step, 10, false);
    }
    reporter.report(12, 10, true);
    assert.deepEqual(
      calls.map(({ seconds, fraction }) => [seconds, fraction]),
      [
        [0, 0],
        [3, 0.3],
        [6, 0.6],
        [6, 0.6],
        [12, 1],
        [15, 1],
        [18, 1],
        [18, 1],
      ],
    );
  });

  it('gives no fraction when the duration is unknown', () => {
    const calls: { seconds: number; fraction: number | undefined }[] = [];
    new ProgressReporter((progress) => calls.push(progress)).report(4, undefined, true);
    assert.deepEqual(calls, [{ seconds: 4, fraction: undefined }]);
  });
});

describe('StderrLog', () => {
  it('keeps only the last 20 lines and at most 4 KB of them', () => {
    const log = new StderrLog();
    for (let line = 0; line < 10_000; line++) log.push(`line ${line}`);
    assert.deepEqual(
      log.tail().split('\n'),
      Array.from({ length: 20 }, (_, i) => `line ${9980 + i}`),
    );
    for (let line = 0; line < 30; line++) log.push('x'.repeat(1000));
    assert.ok(log.tail().length <= 4096);
  });

  it('takes the first Duration line and the markers of unindented lines only', () => {
    const log = new StderrLog();
    log.push("Input #0, matroska,webm, from 'file:/tmp/in':");
    log.push('    title           : No space left on device, moov atom not found');
    log.push('  Duration: 00:00:10.00, start: 0.000000, bitrate: 131 kb/s');
    log.push('  Duration: 00:00:99.00, start: 0.000000, bitrate: 131 kb/s');
    assert.equal(log.inputDurationSeconds, 10);
    assert.deepEqual([...log.markers], []);
    log.push('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] stream 1, offset 0x1396c: partial file');
    log.push("Stream map '0:a:0' matches no streams.");
    assert.deepEqual([...log.markers].sort(), ['noAudio', 'truncated']);
  });
});

describe('LineSplitter', () => {
  it('splits chunks on any line ending and cuts endless lines short', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.push('a=1\nb=');
    splitter.push('2\r\nc=3\rd');
    splitter.push('x'.repeat(100_000));
    splitter.push('\ne');
    splitter.end();
    assert.deepEqual(lines.slice(0, 3), ['a=1', 'b=2', 'c=3']);
    assert.equal(lines[3]?.length, 8192);
    assert.equal(lines[4], 'e');
  });
});

describe('classifyFailure', () => {
  const outcome = (
    exitCode: number | null,
    markers: StderrMarker[],
    durations: Partial<RunOutcome> = {},
  ): RunOutcome => ({
    exitCode,
    signal: null,
    markers: new Set(markers),
    inputDurationSeconds: 10,
    outputDurationSeconds: 10,
    ...durations,
  });
  const codeOf = (run: RunOutcome): string | undefined => classifyFailure(run)?.code;

  it('lets a clean exit pass', () => {
    assert.equal(classifyFailure(outcome(0, [])), undefined);
    // A glitch the demuxer noticed, but no audio is missing.
    assert.equal(
      classifyFailure(outcome(0, ['truncated'], { outputDurationSeconds: 9.5 })),
      undefined,
    );
    // An audio track shorter than the video is no damage.
    assert.equal(classifyFailure(outcome(0, [], { outputDurationSeconds: 4 })), undefined);
    // Without a header duration there is nothing to fall short of.
    assert.equal(
      codeOf(
        outcome(0, ['truncated'], { inputDurationSeconds: undefined, outputDurationSeconds: 4 }),
      ),
      undefined,
    );
  });

  it('reports a clean exit that lost audio to a cut, or wrote nothing, or could not write', () => {
    assert.equal(
      codeOf(outcome(0, ['truncated'], { outputDurationSeconds: 4.7 })),
      'TRUNCATED_MEDIA',
    );
    assert.equal(
      codeOf(outcome(0, ['emptyOutput'], { outputDurationSeconds: 0 })),
      'NO_AUDIO_TRACK',
    );
    assert.equal(codeOf(outcome(0, ['writeFailed', 'noSpace'])), 'OUT_OF_SPACE');
    assert.equal(codeOf(outcome(0, ['writeFailed'])), 'OUTPUT_WRITE_FAILED');
  });

  it('tells garbage from a truncated file when both lack the MP4 index', () => {
    assert.equal(codeOf(outcome(1, ['misdetected', 'truncated', 'unreadable'])), 'NOT_MEDIA');
    assert.equal(codeOf(outcome(1, ['truncated', 'unreadable'])), 'TRUNCATED_MEDIA');
    assert.equal(codeOf(outcome(1, ['truncated', 'noAudio'])), 'TRUNCATED_MEDIA');
    assert.equal(codeOf(outcome(1, ['noAudio'])), 'NO_AUDIO_TRACK');
    assert.equal(codeOf(outcome(1, ['unreadable'])), 'NOT_MEDIA');
    assert.equal(codeOf(outcome(1, [])), 'CONVERSION_FAILED');
  });

  it('makes signals and exhausted resources retryable, and nothing else', () => {
    for (const run of [
      { ...outcome(null, []), signal: 'SIGKILL' as const },
      outcome(255, ['signalled']),
      outcome(1, ['noSpace']),
      outcome(1, ['noMemory', 'unreadable']),
    ]) {
      assert.equal(classifyFailure(run)?.retryable, true, JSON.stringify([...run.markers]));
    }
    assert.equal(codeOf({ ...outcome(null, ['truncated']), signal: 'SIGKILL' }), 'FFMPEG_KILLED');
    for (const markers of [[], ['truncated'], ['noAudio'], ['unreadable']] as StderrMarker[][]) {
      assert.equal(classifyFailure(outcome(1, markers))?.retryable, false);
    }
  });
});
