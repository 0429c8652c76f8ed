import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openBucket, uploadFromStream } from '@mp3converter/gridfs';
import { JobStore } from '@mp3converter/jobs';
import { waitFor } from '@mp3converter/testkit';
import { ObjectId, type GridFSChunk } from 'mongodb';
import { startTestSystem, type TestSystem } from './support.ts';

let system: TestSystem;

before(async () => {
  system = await startTestSystem({ env: { MAINTENANCE_INTERVAL_MS: '200' } });
});

after(async () => {
  await system.stop();
});

const HOUR_MS = 60 * 60 * 1000;

/** A unique ObjectId as one made at `time` (ms) would be. */
function objectIdFrom(time: number): ObjectId {
  const seconds = Math.floor(time / 1000)
    .toString(16)
    .padStart(8, '0');
  return ObjectId.createFromHexString(seconds + randomBytes(8).toString('hex'));
}

describe('gateway maintenance', () => {
  it('removes the chunks of an upload abandoned long ago, and leaves recent and complete ones', async () => {
    const chunks = system.videos.collection<GridFSChunk>('fs.chunks');
    // Begun two hours ago (past the 1 hour upload timeout plus margin), never completed.
    const abandoned = objectIdFrom(Date.now() - 2 * HOUR_MS);
    // Begun a moment ago: may still be arriving.
    const arriving = new ObjectId();
    for (const filesId of [abandoned, arriving]) {
      await chunks.insertOne({
        _id: new ObjectId(),
        files_id: filesId,
        n: 0,
        data: randomBytes(10),
      });
    }
    const complete = await uploadFromStream(
      openBucket(system.videos, 'fs'),
      Readable.from([randomBytes(1000)]),
      { filename: 'complete.mp4' },
    );

    await waitFor(async () => (await chunks.countDocuments({ files_id: abandoned })) === 0, {
      what: 'the abandoned chunks removed',
    });
    assert.equal(await chunks.countDocuments({ files_id: arriving }), 1);
    assert.equal(await chunks.countDocuments({ files_id: complete.id }), 1);
  });

  it('finishes a delete that was interrupted after the job was marked', async () => {
    const videos = openBucket(system.videos, 'fs');
    const jobId = randomUUID();
    const video = await uploadFromStream(videos, Readable.from([randomBytes(1000)]), {
      filename: 'clip.mp4',
      metadata: { job_id: jobId, owner_id: 'user-1', original_name: 'clip.mp4' },
    });
    const jobs = new JobStore(system.jobsDb);
    const longAgo = new Date(Date.now() - HOUR_MS);
    await jobs.create(
      {
        id: jobId,
        ownerId: 'user-1',
        ownerEmail: 'one@example.com',
        filename: 'clip.mp4',
        options: { bitrate_kbps: 192 },
        video: { fid: video.id, size: 1000, contentType: 'video/mp4', sha256: 'ab'.repeat(32) },
      },
      longAgo,
    );
    // The DELETE got as far as marking the job, then MongoDB went away.
    await jobs.markDeleted(jobId, 'user-1', longAgo);

    await waitFor(async () => (await jobs.collection.countDocuments({ _id: jobId })) === 0, {
      what: 'the interrupted delete finished',
    });
    assert.equal(await videos.files.countDocuments({ _id: video.id }), 0);
    assert.equal(await videos.chunks.countDocuments({ files_id: video.id }), 0);
  });

  it('leaves a job whose delete may still be under way', async () => {
    const jobs = new JobStore(system.jobsDb);
    const jobId = randomUUID();
    await jobs.create({
      id: jobId,
      ownerId: 'user-2',
      ownerEmail: 'two@example.com',
      filename: 'clip.mp4',
      options: { bitrate_kbps: 192 },
      video: { fid: new ObjectId(), size: 1, contentType: 'video/mp4', sha256: 'cd'.repeat(32) },
    });
    await jobs.markDeleted(jobId, 'user-2');
    // Two abandoned uploads, one after the other: the second is swept by a later round than
    // the first, so the round that swept the first has finished, its deletes included.
    await completedRound();
    await completedRound();
    assert.equal(await jobs.collection.countDocuments({ _id: jobId }), 1);
    await jobs.remove(jobId);
  });
});

/** Plants an abandoned upload's chunk and waits until a maintenance round removes it. */
async function completedRound(): Promise<void> {
  const chunks = system.videos.collection<GridFSChunk>('fs.chunks');
  const filesId = objectIdFrom(Date.now() - 2 * HOUR_MS);
  await chunks.insertOne({ _id: new ObjectId(), files_id: filesId, n: 0, data: randomBytes(10) });
  await waitFor(async () => (await chunks.countDocuments({ files_id: filesId })) === 0, {
    what: 'a maintenance round',
  });
}
