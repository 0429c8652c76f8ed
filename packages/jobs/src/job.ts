import type { ConversionOptions } from '@mp3converter/contracts';
import type { Filter, ObjectId } from 'mongodb';

/**
 * A job is what a user sees of one upload. The gateway creates it `queued`, the converter
 * claims it (`converting`) and ends it `done` or `failed`, the notification service reads it.
 */
export const JOB_STATUSES = ['queued', 'converting', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A status a job may leave by a move, and what else must hold of it. */
export interface JobMoveSource {
  status: JobStatus;
  /** Further condition on the job, as a query. */
  when?: Filter<JobDocument>;
}

/** The moves one JobStore method makes: from any of `from` to `to`. */
export interface JobMoves {
  from: readonly JobMoveSource[];
  to: JobStatus;
}

/**
 * The only moves a job's status makes, by the JobStore method that makes each. The store
 * builds its update filters from this table, so it cannot make any other move; each is a
 * conditional update, so of two workers holding the same job only one moves it, and a
 * redelivered message finds the job already past its step. A job marked deleted makes no
 * move. Apart from these, a job only disappears: deleted by its owner in any status, or
 * discarded while `queued` when its message could not be published.
 */
export const JOB_TRANSITIONS = {
  /** A conversion attempt takes the job. */
  claim: {
    from: [
      // The first attempt.
      { status: 'queued' },
      // Taken over by a later attempt of the same message: a retry after a failure on our
      // side, or a redelivery once the attempt holding it died, lost its channel or handed
      // the message back (the broker hands a message out again only once its holder is gone).
      { status: 'converting' },
      // Failed only because its attempts ran out on our side, and its dead letter replayed.
      { status: 'failed', when: { 'error.retryable': true } },
    ],
    to: 'converting',
  },
  /** The attempt holding the claim stored the MP3. */
  completeConversion: { from: [{ status: 'converting' }], to: 'done' },
  /** The attempt holding the claim found the file unusable, or was the last on our side. */
  failConversion: { from: [{ status: 'converting' }], to: 'failed' },
} as const satisfies Record<string, JobMoves>;

export type JobMover = keyof typeof JOB_TRANSITIONS;

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
