import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { openBucket, uploadFromStream } from '@mp3converter/gridfs';
import { JobStore, mp3FileName, type JobDocument, type JobFileMetadata } from '@mp3converter/jobs';
import { ObjectId } from 'mongodb';
import { bearer, videoForm, type TestSystem } from './support.ts';

/**
 * Stands in for the converter, which does not exist yet: stores an MP3 in GridFS `mp3s` the
 * way it will (metadata job_id, owner_id, original_name) and moves the job through JobStore.
 */

/** Bytes that start like an MP3 with an ID3v2 tag; the rest is random. */
export function fakeMp3(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.write('ID3', 0, 'latin1');
  return bytes;
}

export interface UploadedJob {
  jobId: string;
  videoFid: string;
  createdAt: string;
}

/** POST /upload of a small video; asserts the 202. */
export async function uploadVideo(
  system: TestSystem,
  token: string,
  {
    content = randomBytes(2_000),
    filename = 'clip.mp4',
    fields = {},
  }: { content?: Uint8Array; filename?: string; fields?: Record<string, string> } = {},
): Promise<UploadedJob> {
  const response = await fetch(`${system.url}/upload`, {
    method: 'POST',
    headers: bearer(token),
    body: videoForm(content, { filename, fields }),
  });
  assert.equal(response.status, 202, await response.clone().text());
  const { jobId, videoFid, createdAt } = (await response.json()) as UploadedJob;
  return { jobId, videoFid, createdAt };
}

export function jobStore(system: TestSystem): JobStore {
  return new JobStore(system.jobsDb);
}

/** The job document as stored, deleted or not. */
export async function jobDocument(
  system: TestSystem,
  jobId: string,
): Promise<JobDocument | undefined> {
  return (await jobStore(system).collection.findOne({ _id: jobId })) ?? undefined;
}

export interface StoredMp3File {
  fid: string;
  bytes: Buffer;
  /** The name it downloads as. */
  filename: string;
}

/** Stores the job's MP3 in GridFS `mp3s` as the converter does, without touching the job. */
export async function storeMp3(
  system: TestSystem,
  jobId: string,
  bytes: Buffer = fakeMp3(300_000),
): Promise<StoredMp3File> {
  const job = await jobDocument(system, jobId);
  assert.ok(job, `job ${jobId} exists`);
  const metadata: JobFileMetadata = {
    job_id: jobId,
    owner_id: job.ownerId,
    original_name: job.filename,
  };
  const file = await uploadFromStream(openBucket(system.mp3s, 'fs'), Readable.from([bytes]), {
    filename: `${jobId}.mp3`,
    contentType: 'audio/mpeg',
    metadata,
  });
  return { fid: file.id.toHexString(), bytes, filename: mp3FileName(job.filename) };
}

/** queued → converting, as the converter does when it takes the job. */
export async function startConverting(system: TestSystem, jobId: string): Promise<JobDocument> {
  const moved = await jobStore(system).transition(jobId, 'queued', 'converting', {
    startedAt: new Date(),
    progress: 0,
  });
  assert.ok(moved, `job ${jobId} moved to converting`);
  return moved;
}

/** converting → done with the stored MP3. Resolves undefined when the job was not converting (deleted). */
export function finishJob(
  system: TestSystem,
  jobId: string,
  mp3: StoredMp3File,
  durationSeconds = 12.5,
): Promise<JobDocument | undefined> {
  return jobStore(system).transition(jobId, 'converting', 'done', {
    mp3: {
      fid: ObjectId.createFromHexString(mp3.fid),
      size: mp3.bytes.length,
      durationSeconds,
      filename: mp3.filename,
    },
    progress: 100,
    finishedAt: new Date(),
  });
}

/** The whole conversion of a queued job: MP3 stored, job done. */
export async function convertJob(
  system: TestSystem,
  jobId: string,
  bytes?: Buffer,
): Promise<StoredMp3File> {
  const mp3 = await storeMp3(system, jobId, bytes);
  await startConverting(system, jobId);
  const done = await finishJob(system, jobId, mp3);
  assert.equal(done?.status, 'done');
  return mp3;
}
