import { mongoError } from '@mp3converter/mongo';
import type { Collection, Db, Filter, ObjectId } from 'mongodb';

import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  JOB_TRANSITIONS,
  type ConversionClaim,
  type JobDocument,
  type JobError,
  type JobMover,
  type JobMoves,
  type NewJob,
  type StoredMp3,
} from './job.ts';

export const JOBS_COLLECTION = 'jobs';
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface JobPage {
  jobs: JobDocument[];
  /** Pass back as `cursor` for the next (older) page; absent on the last page. */
  nextCursor?: string;
}

const NOT_DELETED = { deletedAt: { $exists: false } } as const;

/** The jobs a store method may move (never a deleted one), and the status it moves them to. */
interface Move {
  filter: Filter<JobDocument>;
  to: JobMoves['to'];
}

/**
 * `mover`'s moves as JOB_TRANSITIONS has them: the only source of a status the store sets on
 * an existing job, so that it can make no move the table does not list.
 */
function movesOf(mover: JobMover): Move {
  const moves: JobMoves = JOB_TRANSITIONS[mover];
  return {
    filter: { ...NOT_DELETED, $or: moves.from.map(({ status, when }) => ({ ...when, status })) },
    to: moves.to,
  };
}

const CLAIM = movesOf('claim');
const COMPLETE = movesOf('completeConversion');
const FAIL = movesOf('failConversion');

/** What `claim` took: the job as it is now, and the claim of the attempt before, if any. */
export interface ClaimedJob {
  job: JobDocument;
  previous: ConversionClaim | undefined;
}

/**
 * The jobs collection: every read and write of a job goes through here. Server errors are
 * rethrown with `mongoError`, so an outage is a DependencyUnavailableError (503, retryable).
 */
export class JobStore {
  readonly collection: Collection<JobDocument>;

  constructor(db: Db, collectionName = JOBS_COLLECTION) {
    this.collection = db.collection<JobDocument>(collectionName);
  }

  /** Creates the indexes the queries need; safe to call on every start. */
  async ensureIndexes(): Promise<void> {
    await this.#run(() =>
      this.collection.createIndexes([
        // A user's jobs, newest first (listForOwner), and the owner check of findForOwner.
        { key: { ownerId: 1, createdAt: -1, _id: -1 }, name: 'owner_newest_first' },
        // Finding a job by its files (the converter's and the download's lookups).
        { key: { 'video.fid': 1 }, name: 'video_fid' },
        { key: { 'mp3.fid': 1 }, name: 'mp3_fid', sparse: true },
      ]),
    );
  }

  /** Inserts a new `queued` job. */
  async create(input: NewJob, now: Date = new Date()): Promise<JobDocument> {
    const job: JobDocument = {
      _id: input.id,
      ownerId: input.ownerId,
      ownerEmail: input.ownerEmail,
      status: 'queued',
      progress: 0,
      filename: input.filename,
      options: input.options,
      video: input.video,
      createdAt: now,
      updatedAt: now,
    };
    await this.#run(() => this.collection.insertOne(job));
    return job;
  }

  /** The job, unless it does not exist or is being deleted. */
  async find(jobId: string): Promise<JobDocument | undefined> {
    return (
      (await this.#run(() => this.collection.findOne({ _id: jobId, ...NOT_DELETED }))) ?? undefined
    );
  }

  /** The job if `ownerId` owns it: someone else's job is as absent as an unknown one. */
  async findForOwner(jobId: string, ownerId: string): Promise<JobDocument | undefined> {
    return (
      (await this.#run(() => this.collection.findOne({ _id: jobId, ownerId, ...NOT_DELETED }))) ??
      undefined
    );
  }

  /**
   * The owner's jobs, newest first, `limit` at a time. `cursor` is the `nextCursor` of the
   * previous page; one that does not decode is a RangeError (a client's mistake).
   */
  async listForOwner(
    ownerId: string,
    { limit = DEFAULT_PAGE_SIZE, cursor }: { limit?: number; cursor?: string } = {},
  ): Promise<JobPage> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    const filter: Filter<JobDocument> = { ownerId, ...NOT_DELETED };
    if (cursor !== undefined) {
      const after = decodeCursor(cursor);
      if (after === undefined) throw new RangeError('cursor is not one this server gave out');
      filter.$or = [
        { createdAt: { $lt: after.createdAt } },
        { createdAt: after.createdAt, _id: { $lt: after.id } },
      ];
    }
    // One more than asked for tells whether another page follows.
    const found = await this.#run(() =>
      this.collection
        .find(filter)
        .sort({ createdAt: -1, _id: -1 })
        .limit(limit + 1)
        .toArray(),
    );
    const jobs = found.slice(0, limit);
    const last = jobs.at(-1);
    return found.length > limit && last !== undefined
      ? { jobs, nextCursor: encodeCursor({ createdAt: last.createdAt, id: last._id }) }
      : { jobs };
  }

  /**
   * Takes the job for a conversion attempt and records `claim` on it: a `queued` job, one
   * `converting` that an earlier attempt held, or one `failed` only on our side
   * (JOB_TRANSITIONS.claim says when each happens). Resolves the job as claimed with the
   * earlier attempt's claim, whose MP3 the caller deletes before starting; undefined when the
   * job is missing, deleted, done or failed because of its file: read it to see which.
   */
  async claim(
    jobId: string,
    claim: Omit<ConversionClaim, 'claimedAt'>,
    now: Date = new Date(),
  ): Promise<ClaimedJob | undefined> {
    const claimed: ConversionClaim = { ...claim, claimedAt: now };
    const changes = { status: CLAIM.to, progress: 0, claim: claimed, startedAt: now };
    const before = await this.#run(() =>
      this.collection.findOneAndUpdate(
        { ...CLAIM.filter, _id: jobId },
        { $set: { ...changes, updatedAt: now }, $unset: { error: '', finishedAt: '' } },
        { returnDocument: 'before' },
      ),
    );
    if (before === null) return undefined;
    const job: JobDocument = { ...before, ...changes, updatedAt: now };
    delete job.error;
    delete job.finishedAt;
    return { job, previous: before.claim };
  }

  /**
   * converting → done with the stored MP3, only for the attempt holding the claim on `mp3.fid`.
   * Resolves the finished job, or undefined when the job was deleted or taken over meanwhile:
   * the caller then deletes its MP3.
   */
  async completeConversion(
    jobId: string,
    mp3: StoredMp3,
    durationSeconds: number,
    now: Date = new Date(),
  ): Promise<JobDocument | undefined> {
    return this.#endConversion(jobId, mp3.fid, COMPLETE, {
      mp3,
      durationSeconds,
      progress: 100,
      finishedAt: now,
      updatedAt: now,
    });
  }

  /**
   * converting → failed with `error`, only for the attempt holding the claim on `claimFid`.
   * Resolves the failed job, or undefined when it was deleted or taken over meanwhile.
   */
  async failConversion(
    jobId: string,
    claimFid: ObjectId,
    error: JobError,
    now: Date = new Date(),
  ): Promise<JobDocument | undefined> {
    return this.#endConversion(jobId, claimFid, FAIL, {
      error,
      finishedAt: now,
      updatedAt: now,
    });
  }

  /** Makes `move` with `changes` on a job still held by the claim on `claimFid`. */
  async #endConversion(
    jobId: string,
    claimFid: ObjectId,
    move: Move,
    changes: Omit<Partial<JobDocument>, 'status'>,
  ): Promise<JobDocument | undefined> {
    const moved = await this.#run(() =>
      this.collection.findOneAndUpdate(
        { ...move.filter, _id: jobId, 'claim.mp3Fid': claimFid },
        { $set: { ...changes, status: move.to } },
        { returnDocument: 'after' },
      ),
    );
    return moved ?? undefined;
  }

  /** The job whatever its state, including one being deleted; undefined if there is none. */
  async findAny(jobId: string): Promise<JobDocument | undefined> {
    return (await this.#run(() => this.collection.findOne({ _id: jobId }))) ?? undefined;
  }

  /**
   * Records conversion progress (0 to 100) while the job is `converting` (and, given
   * `claimFid`, still held by that attempt). Resolves false when the job is no longer
   * converting (deleted, finished, or taken over by another attempt).
   */
  async reportProgress(
    jobId: string,
    progress: number,
    now: Date = new Date(),
    claimFid?: ObjectId,
  ): Promise<boolean> {
    if (!Number.isFinite(progress)) throw new RangeError('progress must be a number');
    const clamped = Math.min(100, Math.max(0, Math.round(progress)));
    const filter: Filter<JobDocument> = { _id: jobId, status: 'converting', ...NOT_DELETED };
    if (claimFid !== undefined) filter['claim.mp3Fid'] = claimFid;
    const { matchedCount } = await this.#run(() =>
      this.collection.updateOne(filter, { $set: { progress: clamped, updatedAt: now } }),
    );
    return matchedCount === 1;
  }

  /**
   * First step of deleting the owner's job: marks it deleted, so it disappears from every
   * read and no worker can move it any more. Resolves the job as marked (also when it was
   * already marked, so an interrupted delete can be repeated), or undefined when the owner
   * has no such job. Delete its files, then call `remove`.
   */
  async markDeleted(
    jobId: string,
    ownerId: string,
    now: Date = new Date(),
  ): Promise<JobDocument | undefined> {
    const marked = await this.#run(() =>
      this.collection.findOneAndUpdate(
        { _id: jobId, ownerId, ...NOT_DELETED },
        { $set: { deletedAt: now, updatedAt: now } },
        { returnDocument: 'after' },
      ),
    );
    if (marked !== null) return marked;
    // Marked by an earlier, interrupted delete: carry on with it.
    const earlier = await this.#run(() =>
      this.collection.findOne({ _id: jobId, ownerId, deletedAt: { $exists: true } }),
    );
    return earlier ?? undefined;
  }

  /**
   * Removes a job that never got going: the gateway's undo when the job's `video` message
   * could not be published. A job a worker has already moved is left alone: resolves false.
   */
  async discard(jobId: string): Promise<boolean> {
    const { deletedCount } = await this.#run(() =>
      this.collection.deleteOne({ _id: jobId, status: 'queued' }),
    );
    return deletedCount === 1;
  }

  /**
   * Jobs marked deleted before `olderThan` and still there: deletes that were interrupted
   * (their owner no longer sees them, so nobody will repeat them). Finish each with the files'
   * deletion and `remove`.
   */
  async findDeletedBefore(olderThan: Date, limit = 100): Promise<JobDocument[]> {
    return this.#run(() =>
      this.collection
        .find({ deletedAt: { $lt: olderThan } })
        .limit(limit)
        .toArray(),
    );
  }

  /** Removes a job marked deleted, once its files are gone. */
  async remove(jobId: string): Promise<void> {
    await this.#run(() => this.collection.deleteOne({ _id: jobId, deletedAt: { $exists: true } }));
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw mongoError(error);
    }
  }
}
