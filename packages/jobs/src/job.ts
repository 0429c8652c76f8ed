import type { ConversionOptions } from '@mp3converter/contracts';
import type { ObjectId } from 'mongodb';

/**
 * A job is what a user sees of one upload. The gateway creates it `queued`, the converter
 * moves it to `converting` and then `done` or `failed`, the notification service reads it.
 */
export const JOB_STATUSES = ['queued', 'converting', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * The only moves a job may make. Every move is a conditional update from the expected
 * state (see JobStore.transition), so of two workers holding the same job only one moves
 * it, and a redelivered message finds the job already past its step.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['converting', 'failed'],
  converting: ['done', 'failed'],
  done: [],
  failed: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export interface StoredVideo {
  /** The GridFS id in the `videos` database. */
  fid: ObjectId;
  size: number;
  contentType: string;
  /** SHA-256 of the content, lower-case hex. */
  sha256: string;
}

export interface StoredMp3 {
  /** The GridFS id in the `mp3s` database. */
  fid: ObjectId;
  size: number;
  durationSeconds: number;
  /** The name it is downloaded as: the original name with `.mp3`. */
  filename: string;
}

/** A reason for a failed job, in words the user understands, with a stable code. */
export interface JobError {
  code: string;
  message: string;
  /**
   * True when the job failed on our side (its retries ran out) rather than because of the
   * file: such a job may be claimed again, e.g. when its dead letter is replayed.
   */
  retryable?: boolean;
}

/**
 * The conversion attempt that holds a `converting` job. Its MP3 is written under `mp3Fid`,
 * chosen before the attempt begins, so that the next attempt can delete what this one left
 * half written; and only the holder of the claim can finish or fail the job.
 */
export interface ConversionClaim {
  /** Which worker (host and process) took it. */
  worker: string;
  mp3Fid: ObjectId;
  claimedAt: Date;
}

/** The document in the `jobs` collection. */
export interface JobDocument {
  /** The job id (a UUID), the `job_id` of the messages. */
  _id: string;
  /** The user id (the JWT `sub`). */
  ownerId: string;
  ownerEmail: string;
  status: JobStatus;
  /** 0 to 100 while converting; 100 when done. */
  progress: number;
  /** The original file name, as the user's client sent it (path parts removed). */
  filename: string;
  options: ConversionOptions;
  video: StoredVideo;
  mp3?: StoredMp3;
  /** Duration of the source, once the converter has read it. */
  durationSeconds?: number;
  error?: JobError;
  /** The conversion attempt holding the job; kept after it ends, for the record. */
  claim?: ConversionClaim;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /**
   * Set when the owner deletes the job: from then on the job is invisible and no transition
   * applies, so a converter still working on it finds it gone; the document itself is
   * removed once its files are.
   */
  deletedAt?: Date;
}

export interface NewJob {
  id: string;
  ownerId: string;
  ownerEmail: string;
  filename: string;
  options: ConversionOptions;
  video: StoredVideo;
}

/** The name an MP3 is saved as: the original name with its extension turned into `.mp3`. */
export function mp3FileName(originalName: string): string {
  const dot = originalName.lastIndexOf('.');
  const stem = dot > 0 ? originalName.slice(0, dot) : originalName;
  return `${stem === '' ? 'audio' : stem}.mp3`;
}
