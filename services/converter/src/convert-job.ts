import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { MessageContext, MessageHandler } from '@mp3converter/amqp';
import {
  CONVERSION_FAILED_QUEUE,
  MP3_QUEUE,
  toConversionFailedMessage,
  toMp3Message,
  type VideoMessage,
} from '@mp3converter/contracts';
import { PermanentError, TransientError } from '@mp3converter/errors';
import { deleteFile, findFile, uploadFromStream, type FileBucket } from '@mp3converter/gridfs';
import {
  mp3FileName,
  type ConversionClaim,
  type JobDocument,
  type JobError,
  type JobFileMetadata,
  type JobStore,
} from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { mongoError } from '@mp3converter/mongo';
import { ObjectId, type GridFSFile } from 'mongodb';
import { JobGoneError, decideFailure, type FailureDecision } from './failure-policy.ts';
import { convertToMp3, type FfmpegBinary, type Mp3Job, type Mp3Result } from './ffmpeg/index.ts';
import type { ConversionOutcome, ConverterMetrics } from './metrics.ts';
import { serveVideo } from './video-source.ts';
import type { Workspace } from './workspace.ts';

export interface ConvertJobDeps {
  jobs: JobStore;
  videos: FileBucket;
  mp3s: FileBucket;
  /** Resolves once the broker confirmed the message. */
  publish(queue: string, message: unknown, options: { messageId: string }): Promise<unknown>;
  ffmpeg: Pick<FfmpegBinary, 'path'>;
  workspace: Workspace;
  metrics: ConverterMetrics;
  keepSourceVideos: boolean;
  /** The consumer's limit per message (below RabbitMQ's consumer_timeout). */
  handlerTimeoutMs: number;
  /** ffmpeg's time limit: base plus so much per second of input, at most `maxMs` (also capped by what the handler's limit leaves). */
  timeLimit: { baseMs: number; perAudioSecondMs: number; maxMs: number };
  /** Names this process in the job's claim. */
  worker: string;
  log: Logger;
}

/** The metadata of an MP3 in GridFS `mp3s`. */
export interface Mp3FileMetadata extends JobFileMetadata {
  source_fid: ObjectId;
  duration_seconds: number;
  bitrate_kbps?: number;
  vbr_quality?: number;
}

/** Progress is written to the job at most this often. */
const PROGRESS_INTERVAL_MS = 500;

/**
 * ffmpeg's time limit allows this long per MiB of the video, for reading it from GridFS as it
 * converts (8 MiB/s: a 2 GiB video with a minute of audio gets 256 s more): a slow server must
 * not pass for a file that takes too long to convert.
 */
const READ_ALLOWANCE_MS_PER_MIB = 125;
const MiB = 1024 * 1024;

/** What a conversion leaves itself, of the handler's time limit, to store the MP3 and finish. */
const FINISHING_MARGIN_MS = 60_000;

/**
 * How a message ended: its outcome, counted once (none for a message handed back or past the
 * handler's time limit before the last attempt), and whether `error` is thrown to the
 * consumer, which then retries or dead-letters the message.
 */
type Ending =
  | { outcome: ConversionOutcome | undefined; throws: false }
  | { outcome: ConversionOutcome | undefined; throws: true; error: unknown };

/**
 * The `video` message handler: converts the job's video to an MP3 and publishes the `mp3`
 * message. Every step is keyed by the job, so a redelivered message picks up where an
 * attempt that died left off:
 *
 * 1. claim the job (queued → converting, or take over from an attempt that died), recording
 *    the fid its MP3 will have; delete the MP3 (or half-written chunks) of earlier attempts;
 * 2. run ffmpeg on the video, served to it from GridFS as it reads, and stream the MP3 into
 *    GridFS under that fid;
 * 3. converting → done, only if the claim is still ours (else delete our MP3);
 * 4. delete the source video, publish `mp3` (confirmed); the consumer then acks.
 *
 * A job already done or failed only repeats step 4 (the notification service keeps one
 * email per job). A file that cannot be converted fails the job with a reason for the user
 * and publishes a `conversion-failed` event; a failure on our side is thrown to be retried,
 * and on the last attempt fails the job too before the message is dead-lettered.
 */
export function convertJobHandler(deps: ConvertJobDeps): MessageHandler<VideoMessage> {
  return async (message, context) => {
    const log = deps.log.child({ jobId: message.job_id, videoFid: message.video_fid });
    const ending = await handle(deps, message, context, log);
    if (ending.outcome !== undefined) deps.metrics.outcome(ending.outcome);
    if (ending.throws) throw ending.error;
  };
}

/**
 * What throws here counts under no outcome: a message that names another job's video, or a
 * failure reading, claiming or cleaning up the job, or publishing its result.
 */
async function handle(
  deps: ConvertJobDeps,
  message: VideoMessage,
  context: MessageContext,
  log: Logger,
): Promise<Ending> {
  const started = Date.now();
  const job = await deps.jobs.findAny(message.job_id);
  if (job === undefined || job.deletedAt !== undefined || isFinished(job)) {
    return settle(deps, message, job, log);
  }
  checkMessageMatches(message, job);
  const mp3Fid = new ObjectId();
  const claimed = await deps.jobs.claim(job._id, { worker: deps.worker, mp3Fid });
  if (claimed === undefined) {
    // Finished or deleted between the read and the claim.
    return settle(deps, message, await deps.jobs.findAny(message.job_id), log);
  }
  const claim = claimed.job.claim as ConversionClaim;
  log.info({ attempt: context.attempt, takenOver: claimed.previous?.worker }, 'conversion started');
  await removeEarlierAttempts(deps, job._id, claimed.previous?.mp3Fid);
  let done: JobDocument | undefined;
  try {
    done = await convert(deps, claimed.job, claim, context, started, log);
  } catch (error) {
    return actOn(decideFailure(error, context), error, deps, message, claim, log);
  }
  if (done === undefined) {
    log.info('job deleted or taken over before it was finished, MP3 removed');
    return { outcome: 'skipped', throws: false };
  }
  await publishResult(deps, message, done, log);
  return { outcome: 'done', throws: false };
}

/** Carries out the decision on a failed attempt; only a `fail` writes to the job. */
async function actOn(
  decision: FailureDecision,
  error: unknown,
  deps: ConvertJobDeps,
  message: VideoMessage,
  claim: ConversionClaim,
  log: Logger,
): Promise<Ending> {
  switch (decision.kind) {
    case 'skip':
      log.info('job deleted or taken over during the conversion, stopped');
      return { outcome: 'skipped', throws: false };
    case 'retry':
      return {
        outcome: decision.reason === 'retryable-error' ? 'retried' : undefined,
        throws: true,
        error,
      };
    case 'fail': {
      if (decision.reason === 'retries-exhausted') {
        log.error({ err: error }, 'conversion failed on every attempt, giving up');
      }
      const outcome = await fail(deps, message, claim, decision, log);
      return decision.rethrow ? { outcome, throws: true, error } : { outcome, throws: false };
    }
  }
}

function isFinished(job: JobDocument): boolean {
  return job.status === 'done' || (job.status === 'failed' && job.error?.retryable !== true);
}

/** A message that does not belong to its job is not ours to act on: dead-lettered as is. */
function checkMessageMatches(message: VideoMessage, job: JobDocument): void {
  if (message.owner_id !== job.ownerId || message.video_fid !== job.video.fid.toHexString()) {
    throw new PermanentError(
      'MESSAGE_JOB_MISMATCH',
      'the message names another owner or video than its job',
    );
  }
}

/** A message for a job that is past converting: repeat the last step, or drop it. */
async function settle(
  deps: ConvertJobDeps,
  message: VideoMessage,
  job: JobDocument | undefined,
  log: Logger,
): Promise<Ending> {
  const skipped: Ending = { outcome: 'skipped', throws: false };
  if (job === undefined) {
    // Its owner's delete may have finished while an attempt was storing its MP3.
    await removeEarlierAttempts(deps, message.job_id, undefined);
    log.warn('no such job, message dropped');
    return skipped;
  }
  if (job.deletedAt !== undefined) {
    // An attempt that stored its MP3 and died may have done so after the owner's delete.
    await removeEarlierAttempts(deps, job._id, job.claim?.mp3Fid);
    log.info('job deleted by its owner, message dropped');
    return skipped;
  }
  if (job.status === 'done') {
    log.info('job already converted, repeating its notification');
    await publishResult(deps, message, job, log);
    return skipped;
  }
  if (job.status === 'failed' && job.error !== undefined) {
    log.info('job already failed, repeating its notification');
    await publishFailure(deps, message, job.error, job.finishedAt ?? new Date());
    return skipped;
  }
  // Claimed by another attempt between our read and our claim: let the broker try again.
  const busy = new TransientError('JOB_BUSY', `job ${job._id} is ${job.status}`);
  return { outcome: 'skipped', throws: true, error: busy };
}

/**
 * Deletes what earlier attempts left in `mp3s`: every complete MP3 of the job, and the chunks
 * an attempt that died while writing left under its claim's fid (no files document points to
 * those; the periodic sweep catches any older ones).
 */
async function removeEarlierAttempts(
  deps: ConvertJobDeps,
  jobId: string,
  previousClaim: ObjectId | undefined,
): Promise<void> {
  let fids: ObjectId[];
  try {
    fids = await deps.mp3s.files
      .find({ 'metadata.job_id': jobId }, { projection: { _id: 1 } })
      .map((file) => file._id)
      .toArray();
  } catch (error) {
    throw mongoError(error);
  }
  if (previousClaim !== undefined && !fids.some((fid) => fid.equals(previousClaim))) {
    fids.push(previousClaim);
  }
  for (const fid of fids) await deleteFile(deps.mp3s, fid);
}

async function convert(
  deps: ConvertJobDeps,
  job: JobDocument,
  claim: ConversionClaim,
  context: MessageContext,
  handlerStarted: number,
  log: Logger,
): Promise<JobDocument | undefined> {
  const started = performance.now();
  const handlerDeadline = handlerStarted + deps.handlerTimeoutMs;
  const gone = new AbortController();
  const signal = AbortSignal.any([context.signal, gone.signal]);
  const video = await findVideo(deps.videos, job);
  await using dir = await deps.workspace.jobDirectory(job._id);
  try {
    const output = join(dir.path, 'output.mp3');
    // ffmpeg's limit counts from its start, within what the handler's limit leaves. ffmpeg
    // reads the video from GridFS as it goes: the limit allows for a slow read of it too.
    const spawnedAt = Date.now();
    const limit = {
      ...deps.timeLimit,
      maxMs: handlerDeadline - spawnedAt - FINISHING_MARGIN_MS,
      readMs: (video.length / MiB) * READ_ALLOWANCE_MS_PER_MIB,
    };
    let result: Mp3Result;
    {
      // Its last write ends with ffmpeg, before the job is completed.
      await using progress = progressWriter(deps.jobs, job._id, claim.mp3Fid, () => {
        gone.abort(new JobGoneError());
      });
      result = await convertServedVideo(deps, video, {
        output,
        options: job.options,
        title: mp3FileName(job.filename).slice(0, -'.mp3'.length),
        signal,
        timeLimitMs: (seconds) => timeLimitMs(limit, seconds),
        initialTimeLimitMs: Math.min(deps.timeLimit.baseMs, Math.max(1, limit.maxMs)),
        onProgress: ({ fraction }) => {
          if (fraction !== undefined) progress.report(fraction * 100);
        },
      });
    }
    const filename = mp3FileName(job.filename);
    const metadata: Mp3FileMetadata = {
      job_id: job._id,
      owner_id: job.ownerId,
      original_name: job.filename,
      source_fid: job.video.fid,
      duration_seconds: result.outputDurationSeconds,
      ...job.options,
    };
    const stored = await uploadFromStream(deps.mp3s, createReadStream(output, { signal }), {
      id: claim.mp3Fid,
      filename,
      contentType: 'audio/mpeg',
      metadata,
      sha256: true,
    });
    const mp3 = {
      fid: stored.id,
      size: stored.length,
      durationSeconds: result.outputDurationSeconds,
      filename,
    };
    const done = await deps.jobs.completeConversion(job._id, mp3, result.outputDurationSeconds);
    if (done === undefined) {
      await deleteFile(deps.mp3s, stored.id);
      return undefined;
    }
    const totalSeconds = (performance.now() - started) / 1000;
    deps.metrics.converted(totalSeconds, result.outputDurationSeconds, result.elapsedMs / 1000);
    log.info(
      {
        mp3Fid: stored.id.toHexString(),
        size: stored.length,
        durationSeconds: result.outputDurationSeconds,
        ffmpegMs: Math.round(result.elapsedMs),
        totalMs: Math.round(totalSeconds * 1000),
      },
      'conversion finished',
    );
    return done;
  } catch (error) {
    if (gone.signal.aborted) throw gone.signal.reason;
    throw error;
  }
}

/**
 * Runs ffmpeg on the video, served to it from GridFS as it reads through a loopback HTTP
 * server, which is closed when ffmpeg is done. A read of the video that failed cut ffmpeg's
 * input short: what ffmpeg made of it says nothing about the file, so the read's error is
 * thrown instead.
 */
async function convertServedVideo(
  deps: ConvertJobDeps,
  video: GridFSFile,
  job: Omit<Mp3Job, 'input'> & { signal: AbortSignal },
): Promise<Mp3Result> {
  const source = await serveVideo(deps.videos, video);
  let result: Mp3Result;
  try {
    // Closed once ffmpeg is done, before its error is looked at: a read still under way (a
    // stalled server) has failed by then.
    await using served = { url: source.url, [Symbol.asyncDispose]: () => source.close() };
    result = await convertToMp3(deps.ffmpeg, { ...job, input: served.url });
  } catch (error) {
    if (!job.signal.aborted && source.error !== undefined) throw mongoError(source.error);
    throw error;
  }
  // ffmpeg may also end "successfully" on an input cut short (a faststart MP4 does).
  if (source.error !== undefined) throw mongoError(source.error);
  return result;
}

/** The video's files document; a missing or empty one cannot be converted. */
async function findVideo(videos: FileBucket, job: JobDocument): Promise<GridFSFile> {
  const file = await findFile(videos, job.video.fid);
  if (file === undefined) {
    throw new PermanentError(
      'VIDEO_MISSING',
      'the uploaded file is no longer stored; please upload it again',
    );
  }
  if (file.length === 0) throw new PermanentError('EMPTY_FILE', 'the file is empty');
  return file;
}

/**
 * Scaled to the input's duration, plus time to read the file at READ_ALLOWANCE_MS_PER_MIB; an
 * input whose header has none (a recorded WebM) gets the most.
 */
function timeLimitMs(
  limit: ConvertJobDeps['timeLimit'] & { readMs: number },
  inputSeconds: number | undefined,
): number {
  const maxMs = Math.max(1, limit.maxMs);
  if (inputSeconds === undefined) return maxMs;
  const ms = limit.baseMs + inputSeconds * limit.perAudioSecondMs + limit.readMs;
  return Math.min(maxMs, Math.round(ms));
}

/**
 * Writes progress to the job at most every PROGRESS_INTERVAL_MS, one write at a time, and
 * only when the whole percentage moved. `onGone` runs when the job is no longer this
 * attempt's (deleted by its owner, or taken over).
 */
function progressWriter(
  jobs: JobStore,
  jobId: string,
  claimFid: ObjectId,
  onGone: () => void,
): { report(percent: number): void } & AsyncDisposable {
  let lastWritten = 0;
  let lastAt = 0;
  let pending: Promise<void> = Promise.resolve();
  let writing = false;
  return {
    report(percent) {
      const rounded = Math.floor(percent);
      const now = Date.now();
      if (writing || rounded <= lastWritten || now - lastAt < PROGRESS_INTERVAL_MS) return;
      writing = true;
      lastAt = now;
      lastWritten = rounded;
      pending = jobs
        .reportProgress(jobId, rounded, new Date(), claimFid)
        .then((held) => {
          if (!held) onGone();
        })
        // Progress is advisory: a failed write is not worth failing the conversion for.
        .catch(() => undefined)
        .finally(() => {
          writing = false;
        });
    },
    [Symbol.asyncDispose]: () => pending,
  };
}

/**
 * converting → failed with the decision's error, then delete the video (when it cannot be
 * converted) and tell the user. `skipped` when the job was no longer this attempt's.
 */
async function fail(
  deps: ConvertJobDeps,
  message: VideoMessage,
  claim: ConversionClaim,
  decision: Extract<FailureDecision, { kind: 'fail' }>,
  log: Logger,
): Promise<ConversionOutcome> {
  const error = decision.jobError;
  const failed = await deps.jobs.failConversion(message.job_id, claim.mp3Fid, error);
  if (failed === undefined) {
    log.info('job deleted or taken over before it could be marked failed');
    return 'skipped';
  }
  log.warn({ code: error.code, reason: error.message }, 'conversion failed');
  // A file proven unusable is of no further use; one that may have failed on our side is
  // kept for a replay.
  if (decision.videoUnusable && !deps.keepSourceVideos) {
    await deleteFile(deps.videos, failed.video.fid);
  }
  await publishFailure(deps, message, error, failed.finishedAt ?? new Date());
  return 'failed';
}

async function publishFailure(
  deps: ConvertJobDeps,
  message: VideoMessage,
  error: JobError,
  failedAt: Date,
): Promise<void> {
  const event = toConversionFailedMessage(
    message,
    { code: error.code, message: error.message },
    failedAt,
  );
  await deps.publish(CONVERSION_FAILED_QUEUE, event, { messageId: `${message.job_id}.failed` });
}

/** Deletes the source video (unless kept) and publishes the `mp3` message. */
async function publishResult(
  deps: ConvertJobDeps,
  message: VideoMessage,
  job: JobDocument,
  log: Logger,
): Promise<void> {
  const mp3 = job.mp3;
  if (mp3 === undefined) throw new Error(`job ${job._id} is done without an MP3`);
  if (!deps.keepSourceVideos && (await deleteFile(deps.videos, job.video.fid))) {
    log.info('source video deleted');
  }
  const result = toMp3Message(message, {
    mp3_fid: mp3.fid.toHexString(),
    mp3_filename: mp3.filename,
    duration_seconds: mp3.durationSeconds,
    size_bytes: mp3.size,
  });
  await deps.publish(MP3_QUEUE, result, { messageId: message.job_id });
}
