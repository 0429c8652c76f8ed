import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ObjectId, type GridFSFile } from 'mongodb';
import { verifyDownload } from '@mp3converter/download-links';
import { waitFor } from '@mp3converter/testkit';
import {
  convertJob,
  failJob,
  finishJob,
  jobDocument,
  jobStore,
  startConverting,
  storeMp3,
  uploadVideo,
  type UploadedJob,
} from './fake-converter.ts';
import type { GatewayClient, JobList, JobView } from './api-client.ts';
import { LINK_SECRET, signUp, startTestSystem, type TestSystem } from './support.ts';

let system: TestSystem;
let token: string;
let otherToken: string;
/** The API as the user of `token`, and as another user. */
let owner: GatewayClient;
let other: GatewayClient;

before(async () => {
  system = await startTestSystem();
  ({ token } = await signUp(system.url));
  ({ token: otherToken } = await signUp(system.url));
  owner = system.api.as(token);
  other = system.api.as(otherToken);
});

after(async () => {
  await system.stop();
});

/** The owner's view of a job (200, not to be cached). */
async function jobView(jobId: string): Promise<JobView> {
  const { headers, body } = await owner.getJob(jobId);
  assert.equal(headers.get('cache-control'), 'no-store');
  return body;
}

/** The files document with this id and how many chunks it has, in one of the two buckets. */
async function storedFile(
  bucket: 'videos' | 'mp3s',
  fid: string,
): Promise<{ file: GridFSFile | null; chunks: number }> {
  const db = system[bucket];
  const id = ObjectId.createFromHexString(fid);
  return {
    file: await db.collection<GridFSFile>('fs.files').findOne({ _id: id }),
    chunks: await db.collection('fs.chunks').countDocuments({ files_id: id }),
  };
}

describe('GET /jobs/{id}', () => {
  it('shows the owner a queued job', async () => {
    const before = Date.now();
    const uploaded = await uploadVideo(system, token, {
      filename: 'concert.mp4',
      fields: { quality: '2' },
    });
    const view = await jobView(uploaded.jobId);
    assert.equal(view.jobId, uploaded.jobId);
    assert.equal(view.status, 'queued');
    assert.equal(view.progress, 0);
    assert.equal(view.filename, 'concert.mp4');
    assert.deepEqual(view.options, { quality: 2 });
    assert.equal(view.videoFid, uploaded.videoFid);
    assert.equal(view.videoSize, 2_000);
    assert.equal(view.videoContentType, 'video/mp4');
    assert.match(view.videoSha256, /^[0-9a-f]{64}$/);
    const createdAt = Date.parse(view.createdAt);
    assert.ok(createdAt >= before - 1_000 && createdAt <= Date.now(), view.createdAt);
    for (const absent of ['mp3Fid', 'downloadUrl', 'error', 'errorCode', 'finishedAt'] as const) {
      assert.equal(view[absent], undefined, absent);
    }
  });

  it("answers 404 JOB_NOT_FOUND for someone else's job and for an unknown id", async () => {
    const { jobId } = await uploadVideo(system, token);
    for (const [what, id, client] of [
      ["someone else's job", jobId, other],
      ['an unknown uuid', randomUUID(), owner],
      ['not a uuid', 'not-a-job', owner],
    ] as const) {
      const { body } = await client.getJob(id, { expectedStatus: 404 });
      assert.equal(body.code, 'JOB_NOT_FOUND', what);
    }
  });

  it('answers 401 without a token', async () => {
    const { jobId } = await uploadVideo(system, token);
    const anonymous = { token: null, expectedStatus: 401 } as const;
    for (const { headers } of [
      await owner.getJob(jobId, anonymous),
      await owner.listJobs({}, anonymous),
      await owner.deleteJob(jobId, anonymous),
      await owner.getJob(jobId, { token: 'not-a-token', expectedStatus: 401 }),
    ]) {
      assert.match(headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.ok(await jobDocument(system, jobId), 'the unauthenticated DELETE removed nothing');
  });

  it('shows a done job with its MP3 and a signed download link', async () => {
    const { jobId } = await uploadVideo(system, token, { filename: 'talk.webm' });
    const mp3 = await convertJob(system, jobId);
    const requestedAt = Date.now();
    const view = await jobView(jobId);
    assert.equal(view.status, 'done');
    assert.equal(view.progress, 100);
    assert.equal(view.mp3Fid, mp3.fid);
    assert.equal(view.mp3Size, mp3.bytes.length);
    assert.equal(view.mp3Filename, 'talk.mp3');
    assert.equal(view.durationSeconds, 12.5);
    assert.equal(typeof view.startedAt, 'string');
    assert.equal(typeof view.finishedAt, 'string');

    const link = new URL(String(view.downloadUrl), system.url);
    assert.equal(link.pathname, '/download');
    assert.equal(link.searchParams.get('fid'), mp3.fid);
    const expires = link.searchParams.get('expires');
    assert.ok(
      verifyDownload(LINK_SECRET, { fid: mp3.fid, expires, sig: link.searchParams.get('sig') }),
    );
    const ttlMs = system.config.links.ttlSeconds * 1000;
    const expiresAt = Date.parse(String(view.downloadUrlExpiresAt));
    assert.equal(expiresAt, Number(expires) * 1000);
    assert.ok(
      Math.abs(expiresAt - (requestedAt + ttlMs)) < 5_000,
      String(view.downloadUrlExpiresAt),
    );
  });

  it('shows why a job failed', async () => {
    const { jobId } = await uploadVideo(system, token);
    const failed = await failJob(system, jobId, {
      code: 'NO_AUDIO_TRACK',
      message: 'the video has no audio track',
    });
    assert.equal(failed?.status, 'failed');
    const view = await jobView(jobId);
    assert.equal(view.status, 'failed');
    assert.equal(view.error, 'the video has no audio track');
    assert.equal(view.errorCode, 'NO_AUDIO_TRACK');
    assert.equal(view.downloadUrl, undefined);
    assert.equal(view.mp3Fid, undefined);
  });
});

describe('GET /jobs', () => {
  let listToken: string;
  /** Oldest first. */
  const uploaded: UploadedJob[] = [];

  before(async () => {
    ({ token: listToken } = await signUp(system.url));
    for (let index = 0; index < 5; index += 1) {
      const previous = uploaded.at(-1);
      // Distinct creation times, so that "newest first" is the reverse upload order.
      if (previous !== undefined) {
        const createdAt = Date.parse(previous.createdAt);
        await waitFor(() => Date.now() > createdAt, {
          intervalMs: 1,
          what: 'the next millisecond',
        });
      }
      uploaded.push(await uploadVideo(system, listToken, { filename: `part-${index}.mp4` }));
    }
    await convertJob(system, uploaded[0]!.jobId);
    // Someone else's job, which must not show up.
    await uploadVideo(system, otherToken);
  });

  async function page(query: string): Promise<JobList> {
    const { headers, body } = await system.api.as(listToken).listJobs(query);
    assert.equal(headers.get('cache-control'), 'no-store');
    return body;
  }

  /** The problem code of a query GET /jobs refuses with 400. */
  async function refused(query: string): Promise<string> {
    return (await system.api.as(listToken).listJobs(query, { expectedStatus: 400 })).body.code;
  }

  it("lists only the caller's jobs, newest first", async () => {
    const { jobs, nextCursor } = await page('');
    assert.deepEqual(
      jobs.map((job) => job.jobId),
      uploaded.map((job) => job.jobId).reverse(),
    );
    assert.equal(nextCursor, undefined);
    assert.equal(jobs.at(-1)?.status, 'done');
    assert.equal(typeof jobs.at(-1)?.downloadUrl, 'string');
  });

  it('pages with limit and nextCursor', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: '2' });
      if (cursor !== undefined) query.set('cursor', cursor);
      const result = await page(query.toString());
      sizes.push(result.jobs.length);
      seen.push(...result.jobs.map((job) => job.jobId));
      cursor = result.nextCursor;
    } while (cursor !== undefined && sizes.length < 10);
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(seen, uploaded.map((job) => job.jobId).reverse());
  });

  it('pages on from a cursor in the form given out before (base64url of the same position)', async () => {
    const first = await page('limit=2');
    assert.match(String(first.nextCursor), /^\d{1,13}\.[0-9a-f-]{36}$/);
    const earlier = Buffer.from(String(first.nextCursor), 'utf8').toString('base64url');
    const plain = await page(
      new URLSearchParams({ limit: '2', cursor: String(first.nextCursor) }).toString(),
    );
    const old = await page(new URLSearchParams({ limit: '2', cursor: earlier }).toString());
    // Job ids only: a done job's signed link is made anew on each request.
    const ids = ({ jobs, nextCursor }: JobList) => [jobs.map((job) => job.jobId), nextCursor];
    assert.deepEqual(ids(old), ids(plain));
    assert.equal(old.jobs.length, 2);
  });

  it('ends without a nextCursor when the last page is exactly full', async () => {
    const first = await page('limit=5');
    assert.equal(first.jobs.length, 5);
    assert.equal(first.nextCursor, undefined);
  });

  it('answers an empty list to a user without jobs', async () => {
    const { token: newcomer } = await signUp(system.url);
    const { body } = await system.api.as(newcomer).listJobs();
    assert.deepEqual(body, { jobs: [] });
  });

  it('answers 400 to a bad limit', async () => {
    for (const limit of ['0', '101', 'x', '1.5', '-1', '']) {
      assert.equal(await refused(`limit=${limit}`), 'INVALID_QUERY', `limit=${limit}`);
    }
    await refused('limit=1&limit=2');
  });

  it('answers 400 to a cursor this server did not give out', async () => {
    const forged = Buffer.from(`${Date.now()}.not-a-job-id`, 'utf8').toString('base64url');
    for (const cursor of ['abc', 'not a cursor!', forged]) {
      assert.equal(
        await refused(new URLSearchParams({ cursor }).toString()),
        'INVALID_CURSOR',
        cursor,
      );
    }
    const tooLong = new URLSearchParams({ cursor: 'a'.repeat(300) }).toString();
    assert.equal(await refused(tooLong), 'INVALID_QUERY');
  });
});

describe('DELETE /jobs/{id}', () => {
  it('removes a done job, its video and its MP3', async () => {
    const { jobId, videoFid } = await uploadVideo(system, token);
    const mp3 = await convertJob(system, jobId);
    assert.ok((await storedFile('videos', videoFid)).file);
    assert.ok((await storedFile('mp3s', mp3.fid)).chunks > 1);

    const deleted = await owner.deleteJob(jobId);
    assert.equal(deleted.body, '');

    const after = await owner.getJob(jobId, { expectedStatus: 404 });
    assert.equal(after.body.code, 'JOB_NOT_FOUND');
    assert.deepEqual(await storedFile('videos', videoFid), { file: null, chunks: 0 });
    assert.deepEqual(await storedFile('mp3s', mp3.fid), { file: null, chunks: 0 });
    assert.equal(await jobDocument(system, jobId), undefined);

    await owner.download(mp3.fid, { expectedStatus: 404 });

    const again = await owner.deleteJob(jobId, { expectedStatus: 404 });
    assert.equal(again.body.code, 'JOB_NOT_FOUND');
  });

  it("answers 404 to someone else's DELETE and deletes nothing", async () => {
    const { jobId, videoFid } = await uploadVideo(system, token);
    const mp3 = await convertJob(system, jobId);

    const refusal = await other.deleteJob(jobId, { expectedStatus: 404 });
    assert.equal(refusal.body.code, 'JOB_NOT_FOUND');
    await owner.deleteJob(randomUUID(), { expectedStatus: 404 });

    assert.equal((await jobView(jobId)).status, 'done');
    assert.equal((await jobDocument(system, jobId))?.deletedAt, undefined);
    assert.ok((await storedFile('videos', videoFid)).file);
    assert.ok((await storedFile('mp3s', mp3.fid)).file);
  });

  it('removes a queued job so that the converter can no longer take it', async () => {
    const { jobId, videoFid } = await uploadVideo(system, token);
    await owner.deleteJob(jobId);
    assert.deepEqual(await storedFile('videos', videoFid), { file: null, chunks: 0 });
    const mp3Fid = new ObjectId();
    assert.equal(await jobStore(system).claim(jobId, { worker: 'converter', mp3Fid }), undefined);
  });

  it('removes a job being converted, with the MP3 the converter stored meanwhile', async () => {
    const { jobId, videoFid } = await uploadVideo(system, token);
    await startConverting(system, jobId);
    // Stored, but the job does not name it yet: only its metadata.job_id leads to it.
    const mp3 = await storeMp3(system, jobId);
    assert.equal((await jobView(jobId)).status, 'converting');

    await owner.deleteJob(jobId);

    // The converter, finishing, finds the job gone.
    assert.equal(await finishJob(system, jobId, mp3), undefined);
    assert.equal(await jobStore(system).reportProgress(jobId, 50), false);
    assert.equal(await jobDocument(system, jobId), undefined);
    assert.deepEqual(await storedFile('videos', videoFid), { file: null, chunks: 0 });
    assert.deepEqual(await storedFile('mp3s', mp3.fid), { file: null, chunks: 0 });
    const files = system.mp3s.collection<GridFSFile>('fs.files');
    assert.equal(await files.countDocuments({ 'metadata.job_id': jobId }), 0);
  });
});
