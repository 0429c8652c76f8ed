import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { openBucket, uploadFromStream } from '@mp3converter/gridfs';
import {
  JobStore,
  mp3FileName,
  type JobDocument,
  type JobError,
  type JobFileMetadata,
} from '@mp3converter/jobs';
import { ObjectId } from 'mongodb';
import type { TestSystem } from './support.ts';

/**
 * Stands in for the converter, which does not exist yet: stores an MP3 in GridFS `mp3s` the
 * way it will (metadata job_id, owner_id, original_name) and moves the job through JobStore's
 * claim, completeConversion and failConversion, as the converter does.
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
  const { body } = await system.api.as(token).upload({ content, filename, fields });
  const { jobId, videoFid, createdAt } = body;
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

/**
 * Stores the job's MP3 in GridFS `mp3s` as the converter does (under its claim's fid, once the
 * job is claimed), without touching the job.
 */
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
    ...(job.claim && { id: job.claim.mp3Fid }),
    filename: `${jobId}.mp3`,
    contentType: 'audio/mpeg',
    metadata,
  });
  return { fid: file.id.toHexString(), bytes, filename: mp3FileName(job.filename) };
}

/** queued → converting, as the converter does when it takes the job. */
export async function startConverting(system: TestSystem, jobId: string): Promise<JobDocument> {
  const claimed = await jobStore(system).claim(jobId, {
    worker: 'fake-converter',
    mp3Fid: new ObjectId(),
  });
  assert.ok(claimed, `job ${jobId} claimed`);
  return claimed.job;
}

/** converting → done with the stored MP3. Resolves undefined when the job was not converting (deleted). */
export function finishJob(
  system: TestSystem,
  jobId: string,
  mp3: StoredMp3File,
  durationSeconds = 12.5,
): Promise<JobDocument | undefined> {
  const fid = ObjectId.createFromHexString(mp3.fid);
  return jobStore(system).completeConversion(
    jobId,
    { fid, size: mp3.bytes.length, durationSeconds, filename: mp3.filename },
    durationSeconds,
  );
}

/** A queued job claimed and failed with `error`, as the converter fails a file it cannot convert. */
export async function failJob(
  system: TestSystem,
  jobId: string,
  error: JobError,
): Promise<JobDocument | undefined> {
  const { claim } = await startConverting(system, jobId);
  assert.ok(claim);
  return jobStore(system).failConversion(jobId, claim.mp3Fid, error);
}

/** The whole conversion of a queued job: MP3 stored, job done. */
export async function convertJob(
  system: TestSystem,
  jobId: string,
  bytes?: Buffer,
): Promise<StoredMp3File> {
  await startConverting(system, jobId);
  const mp3 = await storeMp3(system, jobId, bytes);
  const done = await finishJob(system, jobId, mp3);
  assert.equal(done?.status, 'done');
  return mp3;
}
