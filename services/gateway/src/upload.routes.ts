import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { AmqpConnection } from '@mp3converter/amqp';
import {
  SCHEMA_VERSION,
  VIDEO_QUEUE,
  conversionOptionsSchema,
  videoMessageSchema,
  type ConversionOptions,
} from '@mp3converter/contracts';
import {
  AppError,
  BadRequestError,
  DependencyUnavailableError,
  PayloadTooLargeError,
  TransientError,
  ValidationError,
} from '@mp3converter/errors';
import { deleteFile, type FileBucket } from '@mp3converter/gridfs';
import type { JobDocument, JobFileMetadata, JobStore } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { uploadFormFields, type UploadAccepted } from './api-schemas.ts';
import type { AuthClient, User } from './auth-client.ts';
import { authenticate, currentUser } from './authenticate.ts';
import { jobView, type LinkSettings } from './jobs.routes.ts';
import type { GatewayMetrics, UploadOutcome } from './metrics.ts';
import { UploadAbortedError, receiveUpload, type ReceivedUpload } from './upload.ts';

export interface UploadRoutesDeps {
  auth: AuthClient;
  amqp: AmqpConnection;
  jobs: JobStore;
  videos: FileBucket;
  links: LinkSettings;
  maxBytes: number;
  idleTimeoutMs: number;
  /** Uploads taken at once; more are refused with 503 before their body is read. */
  maxConcurrent: number;
  metrics: GatewayMetrics;
  /**
   * Uploads being handled, each until its files and job are in their final state (stored and
   * queued, or removed): shutdown waits for them before it closes MongoDB.
   */
  inFlight: Set<Promise<unknown>>;
  log: Logger;
}

/** Room for the multipart framing and form fields around the file, when judging Content-Length. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * The MP3 options from the form: `bitrate` (CBR, kbit/s) or `quality` (LAME VBR 0 best to 9
 * smallest), not both; neither means CBR at the contract's default bitrate. Any other field
 * is refused, as the document says.
 */
export function parseOptionFields(fields: ReadonlyMap<string, string>): ConversionOptions {
  const parsed = uploadFormFields.safeParse(Object.fromEntries(fields));
  if (!parsed.success) {
    throw new ValidationError(
      'the MP3 options are not valid',
      parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ path: key, message: 'is not a field of the upload form' }))
          : [{ path: issue.path.join('.'), message: issue.message }],
      ),
    );
  }
  const { bitrate, quality } = parsed.data;
  if (bitrate !== undefined && quality !== undefined) {
    throw new ValidationError('the MP3 options are not valid', [
      { path: 'quality', message: 'give bitrate or quality, not both' },
    ]);
  }
  return conversionOptionsSchema.parse({ bitrate_kbps: bitrate, vbr_quality: quality });
}

/**
 * POST /upload: streams the one file of a multipart form into GridFS `videos`, creates the
 * job (`queued`) and publishes its `video` message with a broker confirm. Answers 202 with
 * the job and a Location to follow it. When anything after storing the video fails, the
 * video and the job are removed again; the client is told 503 and may simply retry.
 */
export function uploadRoutes(deps: UploadRoutesDeps): Router {
  const { amqp, jobs, videos, metrics } = deps;
  const log = deps.log.child({ module: 'upload' });
  const router = Router();
  // Uploads holding a slot now: from the checks below until their job is queued or refused.
  let taking = 0;

  router.post('/upload', authenticate(deps.auth), async (req, res) => {
    const user = currentUser(res);
    let outcome: UploadOutcome = 'failed';
    const finished = Promise.withResolvers<undefined>();
    deps.inFlight.add(finished.promise);
    let slot = false;
    try {
      // Refused before a byte is read: with the broker gone the job could not be queued.
      if (!amqp.isConnected()) throw new DependencyUnavailableError('rabbitmq');
      // Each upload under way holds buffers: past the limit, memory would grow with the crowd.
      if (taking >= deps.maxConcurrent) {
        throw new TransientError(
          'TOO_MANY_UPLOADS',
          'the server is taking as many uploads as it can; try again in a few seconds',
        );
      }
      taking += 1;
      slot = true;
      const declared = Number(req.get('content-length'));
      if (Number.isFinite(declared) && declared > deps.maxBytes + MULTIPART_OVERHEAD_BYTES) {
        throw new PayloadTooLargeError(
          'FILE_TOO_LARGE',
          `The file is larger than the limit of ${deps.maxBytes} bytes`,
        );
      }
      // The client waits for this before sending the body (curl does for large files): only
      // now, once the token, the broker and the size are checked, is the body wanted.
      if (req.get('expect')?.toLowerCase() === '100-continue') res.writeContinue();
      const jobId = randomUUID();
      const metadata: Omit<JobFileMetadata, 'original_name'> = { job_id: jobId, owner_id: user.id };
      const upload = await receiveUpload(req, {
        bucket: videos,
        maxBytes: deps.maxBytes,
        idleTimeoutMs: deps.idleTimeoutMs,
        metadata,
        onBytes: (count) => {
          metrics.uploadedBytes(count);
        },
      });
      const job = await queueJob(jobId, user, upload);
      outcome = 'accepted';
      const accepted: UploadAccepted = {
        ...jobView(job, deps.links),
        location: `/jobs/${job._id}`,
      };
      res.status(202).location(accepted.location).json(accepted);
    } catch (error) {
      outcome = uploadOutcome(error);
      throw error;
    } finally {
      if (slot) taking -= 1;
      metrics.upload(outcome);
      deps.inFlight.delete(finished.promise);
      finished.resolve(undefined);
    }
  });

  /** Creates the job and publishes its message; on failure removes the job and the video. */
  async function queueJob(jobId: string, user: User, upload: ReceivedUpload): Promise<JobDocument> {
    let job: JobDocument | undefined;
    try {
      if (upload.size === 0) {
        throw new BadRequestError('EMPTY_FILE', 'the file is empty: there is nothing to convert');
      }
      const options = parseOptionFields(upload.fields);
      job = await jobs.create({
        id: jobId,
        ownerId: user.id,
        ownerEmail: user.email,
        filename: upload.filename,
        options,
        video: {
          fid: upload.file.id,
          size: upload.size,
          contentType: upload.contentType,
          sha256: upload.sha256,
        },
      });
      const message = videoMessageSchema.parse({
        schema_version: SCHEMA_VERSION,
        job_id: jobId,
        owner_id: user.id,
        username: user.email,
        video_fid: upload.file.id.toHexString(),
        mp3_fid: null,
        filename: upload.filename,
        options,
        created_at: job.createdAt.toISOString(),
      });
      try {
        // Bounded by the connection's publish timeout (AMQP_PUBLISH_TIMEOUT_MS).
        await amqp.publish(VIDEO_QUEUE, message, { messageId: jobId });
      } catch (error) {
        throw new DependencyUnavailableError('rabbitmq', { cause: error });
      }
      log.info({ jobId, videoFid: upload.file.id, size: upload.size }, 'upload queued');
      return job;
    } catch (error) {
      if (job !== undefined) {
        // A message whose confirm was lost may still have reached a converter. If the job is
        // still queued it is removed, and a late message finds no job and is dropped; if a
        // converter has already moved it, the upload did succeed.
        const discarded = await jobs.discard(jobId).catch((cleanupError: unknown) => {
          log.warn({ err: cleanupError, jobId }, 'could not remove the job of a failed upload');
          return undefined;
        });
        if (discarded === false) {
          const moved = await jobs.find(jobId).catch(() => undefined);
          if (moved !== undefined) {
            log.info({ jobId }, 'the confirm was lost but a converter has the job: upload queued');
            return moved;
          }
        }
        // The job could not be removed: its video stays, so that the job stays whole.
        if (discarded === undefined) throw error;
      }
      await deleteFile(videos, upload.file.id).catch((cleanupError: unknown) => {
        log.warn(
          { err: cleanupError, fid: upload.file.id },
          'could not remove the video of a failed upload',
        );
      });
      throw error;
    }
  }

  return router;
}

function uploadOutcome(error: unknown): UploadOutcome {
  if (error instanceof UploadAbortedError) return 'aborted';
  if (error instanceof AppError && error.status < 500) return 'rejected';
  return 'failed';
}
