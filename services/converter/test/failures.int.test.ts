import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import {
  CONVERSION_FAILED_QUEUE,
  MP3_QUEUE,
  VIDEO_QUEUE,
  type ConversionFailedMessage,
} from '@mp3converter/contracts';
import { findFile } from '@mp3converter/gridfs';
import { generateMedia, startTcpProxy, testServers, waitFor } from '@mp3converter/testkit';
import { ConverterTestSystem, outcomes } from './support.ts';

let system: ConverterTestSystem;
let media: string;
let long: string;

before(async () => {
  system = await ConverterTestSystem.start();
  media = await mkdtemp(join(tmpdir(), 'mp3test-media-'));
  long = join(media, 'long.mp4');
  await generateMedia(long, { container: 'mp4', seconds: 600, video: false });
});

after(async () => {
  await system.stop();
  await rm(media, { recursive: true, force: true });
});

describe('time limits', () => {
  it('stop a conversion that takes too long, failing the job but keeping its video', async () => {
    const converter = await system.startInProcess({
      CONVERSION_TIME_BASE_MS: '300',
      CONVERSION_TIME_PER_AUDIO_SECOND_MS: '1',
    });
    try {
      // 600 s of audio in 10 MB: a limit of about 2 s (0.9 s, and 1.25 s to read the file),
      // far less than the conversion needs.
      const jobId = await system.submit(long);
      const job = await system.waitForJob(jobId);
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, 'CONVERSION_TIMED_OUT');
      const events = await system.waitForMessages(CONVERSION_FAILED_QUEUE, 1);
      assert.equal((events[0]?.body as ConversionFailedMessage).job_id, jobId);
      assert.ok(await findFile(system.videos, job.video.fid), 'the video is kept');
      assert.deepEqual(await system.mp3Files(jobId), { files: 0, orphanChunks: 0 });

      // A recorded WebM's header has no duration: it gets the most time, not the base.
      const recorded = join(media, 'recorded.webm');
      const ffmpeg = spawn('ffmpeg', [
        ...['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=600'],
        ...['-c:a', 'libopus', '-f', 'webm', 'pipe:1'],
      ]);
      await pipeline(ffmpeg.stdout, createWriteStream(recorded));
      const unknown = await system.submit(recorded);
      const converted = await system.waitForJob(unknown);
      assert.equal(converted.status, 'done', JSON.stringify(converted.error));
      assert.ok(Math.abs((converted.mp3?.durationSeconds ?? 0) - 600) < 1);
      assert.equal((await system.waitForMessages(MP3_QUEUE, 1)).length, 1);
    } finally {
      await system.stopInProcess(converter);
    }
  });
});

describe('a converter failing on its side', () => {
  it('retries when MongoDB goes away mid-conversion, and finishes once it is back, with one MP3', async () => {
    const mongo = new URL(testServers.mongoUrl);
    const proxy = await startTcpProxy(Number(mongo.port || 27017), mongo.hostname);
    try {
      const proxied = new URL(testServers.mongoUrl);
      proxied.port = String(proxy.port);
      const converter = await system.startInProcess({ MONGO_URL: proxied.toString() });
      const jobId = await system.submit(long);
      await system.waitMidConversion(jobId);
      await proxy.cut();
      // The attempt fails (storing the MP3 or finishing the job) and waits in the retry queue.
      await waitFor(async () => (await system.readyCount('video.retry.5000')) === 1, {
        timeoutMs: 60_000,
        what: 'the message in the retry queue',
      });
      assert.equal(await outcomes(converter.port, 'retried'), 1);
      await proxy.restore();
      const job = await system.waitForJob(jobId, ['done', 'failed'], 60_000);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
      assert.equal((await system.waitForMessages(MP3_QUEUE, 1)).length, 1);
      assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
      await system.stopInProcess(converter);
      assert.deepEqual(await system.tempFiles(), []);
    } finally {
      await proxy.close();
    }
  });

  it('after the last attempt fails the job, tells the user, keeps the video, and a replayed dead letter converts it', async () => {
    const converter = await system.startInProcess({ MAX_ATTEMPTS: '1' });
    const jobId = await system.submit(long);
    await system.waitMidConversion(jobId);
    // ffmpeg killed by someone else (the OOM killer): a failure on our side, not the file's.
    await promisify(execFile)('pkill', ['-KILL', '-f', jobId]);
    const failed = await system.waitForJob(jobId, ['failed']);
    assert.equal(failed.error?.code, 'CONVERSION_UNAVAILABLE');
    assert.equal(failed.error.retryable, true);
    const events = await system.waitForMessages(CONVERSION_FAILED_QUEUE, 1);
    assert.equal((events[0]?.body as ConversionFailedMessage).error.code, 'CONVERSION_UNAVAILABLE');
    const dead = await system.waitForMessages('video.dead', 1);
    assert.ok(await findFile(system.videos, failed.video.fid), 'the video is kept for a replay');
    assert.deepEqual(await system.mp3Files(jobId), { files: 0, orphanChunks: 0 });

    // What "Move messages" in the RabbitMQ UI does: the dead letter back into `video`.
    await system.amqp.publish(VIDEO_QUEUE, dead[0]?.body, { messageId: jobId });
    const done = await system.waitForJob(jobId, ['done']);
    assert.equal(done.error, undefined);
    assert.equal((await system.waitForMessages(MP3_QUEUE, 1)).length, 1);
    assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
    assert.equal(await findFile(system.videos, failed.video.fid), undefined);
    await system.stopInProcess(converter);
    assert.deepEqual(await system.tempFiles(), []);
  });
});
