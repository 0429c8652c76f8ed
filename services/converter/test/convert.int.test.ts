import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import {
  CONVERSION_FAILED_QUEUE,
  MP3_QUEUE,
  VIDEO_QUEUE,
  type ConversionFailedMessage,
  type Mp3Message,
} from '@mp3converter/contracts';
import { findFile, uploadFromStream } from '@mp3converter/gridfs';
import {
  generateMedia,
  probeMedia,
  truncateFile,
  waitFor,
  type MediaSpec,
  type ProbedMedia,
} from '@mp3converter/testkit';
import type { ObjectId } from 'mongodb';
import type { Mp3FileMetadata } from '../src/convert-job.ts';
import type { Converter } from '../src/worker.ts';
import { ConverterTestSystem, outcomes } from './support.ts';

let system: ConverterTestSystem;
let converter: Converter;
let media: string;

before(async () => {
  system = await ConverterTestSystem.start();
  media = await mkdtemp(join(tmpdir(), 'mp3test-media-'));
  converter = await system.startInProcess();
});

after(async () => {
  await system.stop();
  await rm(media, { recursive: true, force: true });
});

/** Downloads the job's MP3 from GridFS to a file and probes it. */
async function probeMp3(fid: ObjectId): Promise<ProbedMedia> {
  const path = join(media, `${fid.toHexString()}.mp3`);
  await pipeline(system.mp3s.openDownloadStream(fid), createWriteStream(path));
  try {
    return await probeMedia(path);
  } finally {
    await rm(path, { force: true });
  }
}

/** Waits until the converter counts `count` more messages with `outcome` than `before`. */
async function counted(outcome: string, before: number, count = 1): Promise<void> {
  await waitFor(async () => (await outcomes(converter.port, outcome)) >= before + count, {
    timeoutMs: 30_000,
    what: `${count} more "${outcome}" outcome(s)`,
  });
}

const FORMATS: [string, MediaSpec][] = [
  ['an MP4 with its moov atom at the end', { container: 'mp4', seconds: 4 }],
  ['an MP4 with its moov atom first', { container: 'mp4', seconds: 4, faststart: true }],
  ['a MOV', { container: 'mov', seconds: 3 }],
  ['an MKV', { container: 'mkv', seconds: 3 }],
  ['a WebM', { container: 'webm', seconds: 3 }],
  ['an AVI', { container: 'avi', seconds: 3 }],
  ['mono audio', { container: 'mp4', seconds: 3, audio: { channels: 1, sampleRate: 44_100 } }],
  ['5.1 audio', { container: 'mkv', seconds: 3, audio: { channels: 6, sampleRate: 48_000 } }],
  // PCM: AAC at 8 kHz pads the input itself by a 128 ms frame.
  [
    '8 kHz audio',
    { container: 'mkv', seconds: 3, audio: { channels: 1, sampleRate: 8_000, codec: 'pcm_s16le' } },
  ],
  ['96 kHz audio', { container: 'mkv', seconds: 3, audio: { channels: 2, sampleRate: 96_000 } }],
];

describe('a converter', () => {
  for (const [name, spec] of FORMATS) {
    it(`converts ${name} to an MP3 of the same duration`, async () => {
      const input = join(media, `${name.replaceAll(/\W+/g, '-')}.${spec.container}`);
      await generateMedia(input, spec);
      const source = await probeMedia(input);
      const sourceAudio = source.streams.find((stream) => stream.codecType === 'audio');
      assert.ok(sourceAudio, 'the generated input has audio');
      const jobId = await system.submit(input, { filename: `holiday ${name}.${spec.container}` });
      const job = await system.waitForJob(jobId);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
      assert.equal(job.progress, 100);
      assert.ok(job.mp3);
      const probed = await probeMp3(job.mp3.fid);
      assert.deepEqual(
        probed.streams.map((stream) => stream.codecName),
        ['mp3'],
      );
      assert.ok(
        Math.abs(probed.durationSeconds - spec.seconds) <= 0.2,
        `MP3 lasts ${probed.durationSeconds} s, the input ${spec.seconds} s`,
      );
      assert.ok(Math.abs(job.mp3.durationSeconds - probed.durationSeconds) <= 0.2);
      const channels = probed.streams[0]?.channels;
      assert.equal(
        channels,
        spec.audio === undefined || spec.audio === false ? 2 : Math.min(2, spec.audio.channels),
      );
      // Stored with its job's keys, and the source video is gone.
      const file = await findFile(system.mp3s, job.mp3.fid);
      assert.ok(file);
      const metadata = file.metadata as Mp3FileMetadata;
      assert.equal(metadata.job_id, jobId);
      assert.equal(metadata.owner_id, 'user-1');
      assert.ok(metadata.source_fid.equals(job.video.fid));
      assert.equal(metadata.bitrate_kbps, 192);
      assert.equal(file.filename, `holiday ${name}.mp3`);
      assert.equal(await findFile(system.videos, job.video.fid), undefined);
      // One `mp3` message, for this job, naming this MP3.
      const messages = await system.waitForMessages(MP3_QUEUE, 1);
      assert.equal(messages.length, 1);
      const message = messages[0]?.body as Mp3Message;
      assert.equal(message.job_id, jobId);
      assert.equal(message.mp3_fid, job.mp3.fid.toHexString());
      assert.equal(message.size_bytes, file.length);
    });
  }

  it('encodes at the job’s bitrate or VBR quality, with the title from the file name', async () => {
    const input = join(media, 'options.mp4');
    await generateMedia(input, { container: 'mp4', seconds: 5 });
    const cbr = await system.submit(input, {
      filename: 'Café "Live".mp4',
      options: { bitrate_kbps: 96 },
    });
    const vbr = await system.submit(input, { filename: 'vbr.mp4', options: { vbr_quality: 2 } });
    const cbrJob = await system.waitForJob(cbr);
    const vbrJob = await system.waitForJob(vbr);
    assert.ok(cbrJob.mp3 && vbrJob.mp3);
    const probed = await probeMp3(cbrJob.mp3.fid);
    assert.equal(probed.tags.title, 'Café "Live"');
    assert.ok(Math.abs((probed.bitRate ?? 0) / 1000 - 96) < 8, `bit rate ${probed.bitRate}`);
    const vbrFile = await findFile(system.mp3s, vbrJob.mp3.fid);
    assert.equal((vbrFile?.metadata as Mp3FileMetadata | undefined)?.vbr_quality, 2);
    assert.equal((await system.waitForMessages(MP3_QUEUE, 2)).length, 2);
  });

  const FAILURES: [string, string, (path: string) => Promise<void>][] = [
    [
      'a text file named .mp4',
      'NOT_MEDIA',
      (path) => writeFile(path, 'this is not a video\n'.repeat(50)),
    ],
    ['an empty file', 'EMPTY_FILE', (path) => writeFile(path, '')],
    [
      'random bytes',
      'NOT_MEDIA',
      (path) => writeFile(path, Buffer.from(crypto.getRandomValues(new Uint8Array(64_000)))),
    ],
    [
      'a video without audio',
      'NO_AUDIO_TRACK',
      (path) => generateMedia(path, { container: 'mp4', seconds: 2, audio: false }),
    ],
    [
      'a truncated MP4',
      'TRUNCATED_MEDIA',
      async (path) => {
        await generateMedia(path, { container: 'mp4', seconds: 4 });
        await truncateFile(path, 0.5);
      },
    ],
  ];

  for (const [name, code, make] of FAILURES) {
    it(`fails ${name} at once with ${code}, tells the user, and keeps nothing`, async () => {
      const input = join(media, `${code}-${name.replaceAll(/\W+/g, '-')}.mp4`);
      await make(input);
      const jobId = await system.submit(input);
      const job = await system.waitForJob(jobId);
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, code);
      assert.notEqual(job.error.retryable, true);
      const events = await system.waitForMessages(CONVERSION_FAILED_QUEUE, 1);
      assert.equal(events.length, 1);
      const event = events[0]?.body as ConversionFailedMessage;
      assert.equal(event.job_id, jobId);
      assert.deepEqual(event.error, { code, message: job.error.message });
      assert.deepEqual(await system.mp3Files(jobId), { files: 0, orphanChunks: 0 });
      assert.equal(await findFile(system.videos, job.video.fid), undefined);
      // Not retried: nothing waits in a retry queue or the dead-letter queue.
      for (const queue of ['video.retry.5000', 'video.dead', MP3_QUEUE]) {
        assert.equal(await system.readyCount(queue), 0, queue);
      }
    });
  }

  it('answers a redelivered message of a done job with its notification again, converting nothing', async () => {
    const input = join(media, 'again.mp4');
    await generateMedia(input, { container: 'mp4', seconds: 2 });
    const jobId = await system.submit(input);
    const job = await system.waitForJob(jobId);
    await system.waitForMessages(MP3_QUEUE, 1);
    const skipped = await outcomes(converter.port, 'skipped');
    // The same message once more, as after a converter died between storing and acking.
    await system.amqp.publish(
      VIDEO_QUEUE,
      {
        schema_version: 1,
        job_id: jobId,
        owner_id: job.ownerId,
        username: job.ownerEmail,
        video_fid: job.video.fid.toHexString(),
        mp3_fid: null,
        filename: job.filename,
        created_at: job.createdAt.toISOString(),
      },
      { messageId: jobId },
    );
    const messages = await system.waitForMessages(MP3_QUEUE, 1);
    await counted('skipped', skipped);
    assert.equal(messages.length, 1);
    assert.equal((messages[0]?.body as Mp3Message).mp3_fid, job.mp3?.fid.toHexString());
    assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
    assert.deepEqual((await system.jobs.findAny(jobId))?.updatedAt, job.updatedAt);
  });

  it('drops a message for an unknown job, dead-letters one that does not parse, and carries on', async () => {
    const skipped = await outcomes(converter.port, 'skipped');
    // An MP3 stored by an attempt that finished just after its owner deleted the job.
    const ghost = crypto.randomUUID();
    await uploadFromStream(system.mp3s, Readable.from([Buffer.from('ID3 left behind')]), {
      filename: 'ghost.mp3',
      metadata: { job_id: ghost, owner_id: 'user-1', original_name: 'ghost.mp4' },
    });
    await system.amqp.publish(VIDEO_QUEUE, {
      schema_version: 1,
      job_id: ghost,
      owner_id: 'user-1',
      username: 'user-1@example.com',
      video_fid: '65f1c0ffee0123456789abcd',
      mp3_fid: null,
      filename: 'ghost.mp4',
      created_at: new Date().toISOString(),
    });
    await system.amqp.publish(VIDEO_QUEUE, { hello: 'world' });
    const input = join(media, 'after-bad.mp4');
    await generateMedia(input, { container: 'mp4', seconds: 2 });
    const jobId = await system.submit(input);
    assert.equal((await system.waitForJob(jobId)).status, 'done');
    await counted('skipped', skipped);
    assert.deepEqual(await system.mp3Files(ghost), { files: 0, orphanChunks: 0 });
    const dead = await system.waitForMessages('video.dead', 1);
    assert.deepEqual(
      dead.map((message) => message.body),
      [{ hello: 'world' }],
    );
    assert.equal((await system.waitForMessages(MP3_QUEUE, 1)).length, 1);
  });

  it('records progress while converting, and stops when the owner deletes the job, leaving nothing', async () => {
    const input = join(media, 'long.mp4');
    await generateMedia(input, { container: 'mp4', seconds: 600, video: false });
    const jobId = await system.submit(input);
    const converting = await waitFor(
      async () => {
        const job = await system.jobs.findAny(jobId);
        return job?.status === 'converting' && job.progress > 0 && job.progress < 100
          ? job
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'progress between 0 and 100' },
    );
    const skipped = await outcomes(converter.port, 'skipped');
    // What the gateway's DELETE does first: mark the job, delete its video.
    await system.jobs.markDeleted(jobId, converting.ownerId);
    await system.videos.delete(converting.video.fid);
    await counted('skipped', skipped);
    assert.deepEqual(await system.mp3Files(jobId), { files: 0, orphanChunks: 0 });
    assert.equal(await system.readyCount(MP3_QUEUE), 0);
    assert.deepEqual(await system.tempFiles(), []);
  });

  it('serves its metrics and probes', async () => {
    const base = `http://127.0.0.1:${converter.port}`;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /conversions_total\{outcome="done"\} [1-9]/);
    assert.match(metrics, /conversions_total\{outcome="failed"\} [1-9]/);
    assert.match(metrics, /ffmpeg_info\{version="[^"]+",path="[^"]+",source="[^"]+"\} 1/);
    assert.match(metrics, /audio_converted_seconds_total [1-9]/);
    assert.match(metrics, /conversion_realtime_factor_count [1-9]/);
  });

  it('leaves nothing in its temp directory', async () => {
    assert.deepEqual(await system.tempFiles(), []);
  });
});
