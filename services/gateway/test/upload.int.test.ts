import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqplib from 'amqplib';
import type { GridFSFile } from 'mongodb';
import { videoMessageSchema } from '@mp3converter/contracts';
import { bearer, signUp, startTestSystem, videoForm, type TestSystem } from './support.ts';

let system: TestSystem;
let token: string;

before(async () => {
  system = await startTestSystem();
  ({ token } = await signUp(system.url));
});

after(async () => {
  await system.stop();
});

async function takeVideoMessage(): Promise<unknown> {
  const connection = await amqplib.connect(system.vhost.amqpUrl);
  try {
    const channel = await connection.createChannel();
    const message = await channel.get('video', { noAck: true });
    if (message === false) assert.fail('no message on queue video');
    return JSON.parse(message.content.toString('utf8'));
  } finally {
    await connection.close();
  }
}

describe('POST /upload', () => {
  it('stores the file, creates a queued job and publishes its video message', async () => {
    const content = randomBytes(700_000);
    const response = await fetch(`${system.url}/upload`, {
      method: 'POST',
      headers: bearer(token),
      body: videoForm(content, { fields: { bitrate: '128' } }),
    });
    assert.equal(response.status, 202, await response.clone().text());
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.status, 'queued');
    assert.equal(typeof body.jobId, 'string');
    assert.equal(response.headers.get('location'), `/jobs/${String(body.jobId)}`);
    assert.deepEqual(body.options, { bitrate: 128 });

    const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
    assert.ok(stored?.metadata);
    assert.equal(stored._id.toHexString(), body.videoFid);
    assert.equal(stored.length, content.length);
    assert.equal(stored.metadata.sha256, createHash('sha256').update(content).digest('hex'));
    assert.equal(stored.metadata.original_name, 'clip.mp4');
    assert.equal(stored.metadata.contentType, 'video/mp4');
    assert.equal(stored.metadata.job_id, body.jobId);

    const message = videoMessageSchema.parse(await takeVideoMessage());
    assert.equal(message.job_id, body.jobId);
    assert.equal(message.video_fid, body.videoFid);
    assert.deepEqual(message.options, { bitrate_kbps: 128 });

    const job = await fetch(`${system.url}/jobs/${String(body.jobId)}`, { headers: bearer(token) });
    assert.equal(job.status, 200);
    const view = (await job.json()) as Record<string, unknown>;
    assert.equal(view.status, 'queued');
    assert.equal(view.videoSize, content.length);
  });
});
