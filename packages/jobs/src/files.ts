import { mongoError } from '@mp3converter/mongo';
import type { Collection, GridFSFile } from 'mongodb';

/**
 * The `metadata` of a job's files in GridFS (the video in `videos`, the MP3 in `mp3s`):
 * who owns it and which job it belongs to, so that a download can check the owner from the
 * file alone and a job's files can be found (and cleaned up) from the job.
 */
export interface JobFileMetadata {
  job_id: string;
  /** The user id (JWT `sub`). */
  owner_id: string;
  /** The name the user's file had (for an MP3, the video's). */
  original_name: string;
  /** Written by @mp3converter/gridfs' uploadFromStream. */
  contentType?: string;
  /** SHA-256 of the content, lower-case hex. */
  sha256?: string;
}

export const JOB_FILE_INDEX = 'job_id_unique';

/**
 * One file per job in a bucket: a unique index on `metadata.job_id` (sparse, so files
 * without one are not affected). A second upload or conversion for the same job then fails
 * on its files document with a duplicate key error instead of adding a second file.
 */
export async function ensureJobFileIndex(files: Collection<GridFSFile>): Promise<void> {
  try {
    await files.createIndexes([
      { key: { 'metadata.job_id': 1 }, name: JOB_FILE_INDEX, unique: true, sparse: true },
    ]);
  } catch (error) {
    throw mongoError(error);
  }
}
