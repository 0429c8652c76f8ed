import { openBucket, type FileBucket } from '@mp3converter/gridfs';
import type { Db } from 'mongodb';
import { ensureJobFileIndex } from './files.ts';
import { JobStore } from './store.ts';

/** The databases of a deployment's jobs and files, from a service's configuration. */
export interface JobDatabases {
  videosDatabase: string;
  mp3sDatabase: string;
  jobsDatabase: string;
}

/** The jobs and their files: what the gateway and the converter work on. */
export interface JobStorage {
  /** The uploaded videos: bucket `fs` of the videos database. */
  videos: FileBucket;
  /** The converted MP3s: bucket `fs` of the MP3s database. */
  mp3s: FileBucket;
  jobs: JobStore;
}

/**
 * Opens the job store and both buckets, and creates the store's indexes and the job-file
 * index of the buckets named in `indexed`, those the service writes (idempotent).
 */
export async function openJobStorage(
  mongo: { db(name: string): Db },
  databases: JobDatabases,
  indexed: readonly ('videos' | 'mp3s')[],
): Promise<JobStorage> {
  const videos = openBucket(mongo.db(databases.videosDatabase), 'fs');
  const mp3s = openBucket(mongo.db(databases.mp3sDatabase), 'fs');
  const jobs = new JobStore(mongo.db(databases.jobsDatabase));
  await jobs.ensureIndexes();
  if (indexed.includes('videos')) await ensureJobFileIndex(videos.files);
  if (indexed.includes('mp3s')) await ensureJobFileIndex(mp3s.files);
  return { videos, mp3s, jobs };
}
