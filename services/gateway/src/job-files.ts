import { deleteFile, type FileBucket } from '@mp3converter/gridfs';
import type { JobDocument } from '@mp3converter/jobs';
import { mongoError } from '@mp3converter/mongo';

/**
 * Deletes a job's video and MP3, and any other file whose metadata names the job (such as the
 * MP3 of a conversion that was being stored as the job was deleted). Missing files are fine,
 * so an interrupted delete can simply be repeated.
 */
export async function deleteJobFiles(
  job: JobDocument,
  buckets: { videos: FileBucket; mp3s: FileBucket },
): Promise<void> {
  await deleteFile(buckets.videos, job.video.fid);
  if (job.mp3 !== undefined) await deleteFile(buckets.mp3s, job.mp3.fid);
  for (const bucket of [buckets.videos, buckets.mp3s]) {
    let ids;
    try {
      ids = await bucket.files
        .find({ 'metadata.job_id': job._id }, { projection: { _id: 1 } })
        .map((file) => file._id)
        .toArray();
    } catch (error) {
      throw mongoError(error);
    }
    for (const id of ids) await deleteFile(bucket, id);
  }
}
