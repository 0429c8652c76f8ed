import { Router, type Request } from 'express';
import { downloadUrl, signDownload } from '@mp3converter/download-links';
import { BadRequestError, NotFoundError } from '@mp3converter/errors';
import type { FileBucket } from '@mp3converter/gridfs';
import {
  MAX_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  type JobCursor,
  type JobDocument,
  type JobStore,
} from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { cursorPosition, listJobsQuery, type JobList, type JobView } from './api-schemas.ts';
import type { AuthClient } from './auth-client.ts';
import { authenticate, currentUser } from './authenticate.ts';
import { deleteJobFiles } from './job-files.ts';

export interface LinkSettings {
  secret: string;
  ttlSeconds: number;
}

export function jobView(job: JobDocument, links: LinkSettings, now = new Date()): JobView {
  const view: JobView = {
    jobId: job._id,
    status: job.status,
    progress: job.progress,
    filename: job.filename,
    options:
      job.options.vbr_quality === undefined
        ? { bitrate: job.options.bitrate_kbps }
        : { quality: job.options.vbr_quality },
    videoFid: job.video.fid.toHexString(),
    videoSize: job.video.size,
    videoContentType: job.video.contentType,
    videoSha256: job.video.sha256,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
  };
  if (job.durationSeconds !== undefined) view.durationSeconds = job.durationSeconds;
  if (job.startedAt !== undefined) view.startedAt = job.startedAt.toISOString();
  if (job.finishedAt !== undefined) view.finishedAt = job.finishedAt.toISOString();
  if (job.status === 'done' && job.mp3 !== undefined) {
    const fid = job.mp3.fid.toHexString();
    const link = signDownload(links.secret, fid, links.ttlSeconds, now);
    Object.assign(view, {
      mp3Fid: fid,
      mp3Filename: job.mp3.filename,
      mp3Size: job.mp3.size,
      durationSeconds: job.mp3.durationSeconds,
      downloadUrl: downloadUrl(link),
      downloadUrlExpiresAt: new Date(link.expires * 1000).toISOString(),
    });
  }
  if (job.status === 'failed' && job.error !== undefined) {
    view.error = job.error.message;
    view.errorCode = job.error.code;
  }
  return view;
}

/**
 * The API's cursor names the position (`<createdAt ms>.<jobId>`) in plain words, so that its
 * form can be stated exactly in the document and every cursor of that form is a valid one;
 * the store's own cursor is opaque.
 */
function publicCursor(storeCursor: string): string {
  const position = decodeCursor(storeCursor);
  if (position === undefined) throw new Error('the job store gave out a cursor it cannot read');
  return plainCursor(position);
}

function plainCursor({ createdAt, id }: JobCursor): string {
  return `${createdAt.getTime()}.${id}`;
}

/**
 * Cursors given out before the API named positions in plain words (base64url of the same
 * text) still page on, so that a client paging through a rolling update need not start again.
 */
function withPlainCursor(query: Request['query']): Request['query'] {
  const { cursor } = query;
  const position = typeof cursor === 'string' ? decodeCursor(cursor) : undefined;
  if (position === undefined) return query;
  return { ...query, cursor: plainCursor(position) };
}

export interface JobsRoutesDeps {
  auth: AuthClient;
  jobs: JobStore;
  videos: FileBucket;
  mp3s: FileBucket;
  links: LinkSettings;
  log: Logger;
}

/** GET /jobs, GET /jobs/{jobId}, DELETE /jobs/{jobId}: the caller's own jobs only. */
export function jobsRoutes(deps: JobsRoutesDeps): Router {
  const { jobs, links } = deps;
  const log = deps.log.child({ module: 'jobs' });
  const router = Router();
  // On each route, not router.use('/jobs'): the route is then known (metrics label) when auth fails.
  const signedIn = authenticate(deps.auth);

  router.get('/jobs', signedIn, async (req, res) => {
    const query = listJobsQuery.safeParse(withPlainCursor(req.query));
    if (!query.success) {
      const onlyCursorForm = query.error.issues.every(
        (issue) => issue.path[0] === 'cursor' && issue.code === 'invalid_format',
      );
      if (onlyCursorForm) throw invalidCursor();
      throw new BadRequestError(
        'INVALID_QUERY',
        `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, cursor the nextCursor of a previous page`,
      );
    }
    const { limit, cursor } = query.data;
    const user = currentUser(res);
    let page;
    try {
      page = await jobs.listForOwner(user.id, {
        limit,
        ...(cursor === undefined ? {} : { cursor: encodeCursor(cursorPosition(cursor)) }),
      });
    } catch (error) {
      if (error instanceof RangeError) {
        throw invalidCursor();
      }
      throw error;
    }
    const now = new Date();
    res.setHeader('Cache-Control', 'no-store');
    const list: JobList = {
      jobs: page.jobs.map((job) => jobView(job, links, now)),
      ...(page.nextCursor === undefined ? {} : { nextCursor: publicCursor(page.nextCursor) }),
    };
    res.json(list);
  });

  router.get('/jobs/:jobId', signedIn, async (req: Request<{ jobId: string }>, res) => {
    const job = await jobs.findForOwner(req.params.jobId, currentUser(res).id);
    if (job === undefined) throw jobNotFound();
    res.setHeader('Cache-Control', 'no-store');
    res.json(jobView(job, links));
  });

  /**
   * Marks the job deleted first: from then on no worker can move it, and a converter still
   * at work finds it gone and removes its own MP3. Then the files go, then the job. An
   * interrupted delete (MongoDB gone midway) is finished by repeating the request.
   */
  router.delete('/jobs/:jobId', signedIn, async (req: Request<{ jobId: string }>, res) => {
    const job = await jobs.markDeleted(req.params.jobId, currentUser(res).id);
    if (job === undefined) throw jobNotFound();
    await deleteJobFiles(job, deps);
    await jobs.remove(job._id);
    log.info({ jobId: job._id, status: job.status }, 'job deleted');
    res.status(204).end();
  });

  return router;
}

function invalidCursor(): BadRequestError {
  return new BadRequestError('INVALID_CURSOR', 'cursor is not one this server gave out');
}

function jobNotFound(): NotFoundError {
  return new NotFoundError('JOB_NOT_FOUND', 'you have no job with this id');
}
