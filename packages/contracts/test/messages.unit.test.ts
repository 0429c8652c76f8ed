import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONVERSION_FAILED_QUEUE,
  MP3_QUEUE,
  VIDEO_QUEUE,
  conversionFailedMessageSchema,
  mp3MessageSchema,
  toConversionFailedMessage,
  toMp3Message,
  videoMessageSchema,
  type VideoMessageInput,
} from '@mp3converter/contracts';

function videoInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const input: VideoMessageInput = {
    schema_version: 1,
    job_id: '0b7c0d5e-3a55-4a43-9d1b-2c2d6f1b9a10',
    owner_id: '17',
    username: 'alice@example.com',
    video_fid: '65f1c0ffee0123456789abcd',
    mp3_fid: null,
    filename: 'holiday clip.mp4',
    options: { bitrate_kbps: 128 },
    created_at: '2024-03-13T10:15:00.000Z',
  };
  return { ...input, ...overrides };
}

function issuePaths(result: { error?: { issues: { path: PropertyKey[] }[] } }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.map(String).join('.'));
}

describe('queue names', () => {
  it('keeps the original queue names', () => {
    assert.equal(VIDEO_QUEUE, 'video');
    assert.equal(MP3_QUEUE, 'mp3');
  });
});

describe('videoMessageSchema', () => {
  it('accepts a complete video message', () => {
    const message = videoMessageSchema.parse(videoInput());
    assert.equal(message.video_fid, '65f1c0ffee0123456789abcd');
    assert.equal(message.mp3_fid, null);
    assert.equal(message.options.bitrate_kbps, 128);
  });

  it('defaults the bitrate to 192 kbps when options or the bitrate are left out', () => {
    const withoutOptions = videoInput();
    delete withoutOptions.options;
    assert.deepEqual(videoMessageSchema.parse(withoutOptions).options, { bitrate_kbps: 192 });
    assert.deepEqual(videoMessageSchema.parse(videoInput({ options: {} })).options, {
      bitrate_kbps: 192,
    });
  });

  it('tolerates and drops unknown fields from a newer producer', () => {
    const message = videoMessageSchema.parse(
      videoInput({ priority: 'high', options: { bitrate_kbps: 320, normalize: true } }),
    );
    assert.equal('priority' in message, false);
    assert.deepEqual(message.options, { bitrate_kbps: 320 });
  });

  it('rejects a bitrate outside the supported list', () => {
    const result = videoMessageSchema.safeParse(videoInput({ options: { bitrate_kbps: 100 } }));
    assert.deepEqual(issuePaths(result), ['options.bitrate_kbps']);
  });

  it('takes a LAME VBR quality instead of a bitrate, 0 to 9', () => {
    for (const quality of [0, 4, 9]) {
      const message = videoMessageSchema.parse(videoInput({ options: { vbr_quality: quality } }));
      assert.deepEqual(message.options, { vbr_quality: quality });
    }
    for (const quality of [-1, 10, 2.5, '2']) {
      const result = videoMessageSchema.safeParse(
        videoInput({ options: { vbr_quality: quality } }),
      );
      assert.deepEqual(issuePaths(result), ['options.vbr_quality'], `quality ${String(quality)}`);
    }
  });

  it('rejects a bitrate and a VBR quality together', () => {
    const result = videoMessageSchema.safeParse(
      videoInput({ options: { bitrate_kbps: 128, vbr_quality: 2 } }),
    );
    assert.deepEqual(issuePaths(result), ['options']);
  });

  it('does not coerce types: a numeric string bitrate is rejected', () => {
    const result = videoMessageSchema.safeParse(videoInput({ options: { bitrate_kbps: '192' } }));
    assert.deepEqual(issuePaths(result), ['options.bitrate_kbps']);
  });

  it('rejects ids that are not 24 lower-case hex digits', () => {
    for (const fid of ['65f1c0ffee0123456789abc', '65F1C0FFEE0123456789ABCD', 'zzzz', 42]) {
      const result = videoMessageSchema.safeParse(videoInput({ video_fid: fid }));
      assert.deepEqual(issuePaths(result), ['video_fid'], `video_fid ${String(fid)}`);
    }
  });

  it('requires mp3_fid to be null in a video message', () => {
    const result = videoMessageSchema.safeParse(
      videoInput({ mp3_fid: '65f1c0ffee0123456789abce' }),
    );
    assert.deepEqual(issuePaths(result), ['mp3_fid']);
  });

  it('rejects another schema version', () => {
    const result = videoMessageSchema.safeParse(videoInput({ schema_version: 2 }));
    assert.deepEqual(issuePaths(result), ['schema_version']);
  });

  it('rejects a job id that is not a uuid, a username that is not an email, a bad date', () => {
    const result = videoMessageSchema.safeParse(
      videoInput({ job_id: 'job-1', username: 'alice', created_at: 'yesterday' }),
    );
    assert.deepEqual(issuePaths(result).sort(), ['created_at', 'job_id', 'username']);
  });

  it('accepts a created_at with a time zone offset', () => {
    const result = videoMessageSchema.safeParse(
      videoInput({ created_at: '2024-03-13T11:15:00+01:00' }),
    );
    assert.equal(result.success, true);
  });

  it('limits the file name to 255 characters without control characters', () => {
    assert.equal(
      videoMessageSchema.safeParse(videoInput({ filename: 'a'.repeat(255) })).success,
      true,
    );
    for (const filename of ['', 'a'.repeat(256), 'evil\r\nname.mp4']) {
      const result = videoMessageSchema.safeParse(videoInput({ filename }));
      assert.deepEqual(issuePaths(result), ['filename'], JSON.stringify(filename));
    }
  });

  it('rejects a message with a missing field', () => {
    const input = videoInput();
    delete input.owner_id;
    assert.deepEqual(issuePaths(videoMessageSchema.safeParse(input)), ['owner_id']);
  });
});

describe('mp3MessageSchema', () => {
  const result = {
    mp3_fid: '65f1c0ffee0123456789abce',
    mp3_filename: 'holiday clip.mp3',
    duration_seconds: 12.5,
  };

  it('accepts an mp3 message with and without size_bytes', () => {
    assert.equal(mp3MessageSchema.safeParse(videoInput(result)).success, true);
    const sized = mp3MessageSchema.parse(videoInput({ ...result, size_bytes: 200_000 }));
    assert.equal(sized.size_bytes, 200_000);
  });

  it('requires the mp3 fields', () => {
    const parsed = mp3MessageSchema.safeParse(videoInput());
    assert.deepEqual(issuePaths(parsed).sort(), ['duration_seconds', 'mp3_fid', 'mp3_filename']);
  });

  it('rejects a negative duration and a fractional size', () => {
    const parsed = mp3MessageSchema.safeParse(
      videoInput({ ...result, duration_seconds: -1, size_bytes: 1.5 }),
    );
    assert.deepEqual(issuePaths(parsed).sort(), ['duration_seconds', 'size_bytes']);
  });
});

describe('toMp3Message', () => {
  it('keeps the job fields of the video message and adds the result', () => {
    const video = videoMessageSchema.parse(videoInput());
    const mp3 = toMp3Message(video, {
      mp3_fid: '65f1c0ffee0123456789abce',
      mp3_filename: 'holiday clip.mp3',
      duration_seconds: 3,
      size_bytes: 48_000,
    });
    assert.deepEqual(mp3, {
      ...video,
      mp3_fid: '65f1c0ffee0123456789abce',
      mp3_filename: 'holiday clip.mp3',
      duration_seconds: 3,
      size_bytes: 48_000,
    });
  });

  it('throws on an invalid result instead of publishing a bad message', () => {
    const video = videoMessageSchema.parse(videoInput());
    assert.throws(() =>
      toMp3Message(video, { mp3_fid: 'nope', mp3_filename: 'a.mp3', duration_seconds: 1 }),
    );
  });
});

describe('conversion-failed events', () => {
  it('has its own queue', () => {
    assert.equal(CONVERSION_FAILED_QUEUE, 'conversion-failed');
  });

  it('carries the job fields and the reason', () => {
    const video = videoMessageSchema.parse(videoInput());
    const failedAt = new Date('2024-03-13T10:16:00.000Z');
    const error = { code: 'NO_AUDIO_TRACK', message: 'the file has no audio track' };
    const event = toConversionFailedMessage(video, error, failedAt);
    assert.equal(event.job_id, video.job_id);
    assert.equal(event.username, 'alice@example.com');
    assert.equal(event.mp3_fid, null);
    assert.deepEqual(event.error, error);
    assert.equal(event.failed_at, '2024-03-13T10:16:00.000Z');
  });

  it('requires a reason', () => {
    const result = conversionFailedMessageSchema.safeParse({
      ...videoInput(),
      failed_at: '2024-03-13T10:16:00.000Z',
      error: { code: '', message: 'x' },
    });
    assert.deepEqual(issuePaths(result), ['error.code']);
  });
});
