import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Request } from 'express';
import { verifyDownload } from '@mp3converter/download-links';
import { AppError, BadRequestError, NotFoundError } from '@mp3converter/errors';
import { findFile, parseObjectId, readStoredFile, type FileBucket } from '@mp3converter/gridfs';
import { formatContentRange, requestedRange } from '@mp3converter/http';
import { mp3FileName, type JobFileMetadata } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import type { GridFSFile } from 'mongodb';
import { downloadQuery } from './api-schemas.ts';
import type { AuthClient, User } from './auth-client.ts';

export interface DownloadRoutesDeps {
  auth: AuthClient;
  mp3s: FileBucket;
  linkSecret: string;
  log: Logger;
}

const MP3_TYPE = 'audio/mpeg';

function downloadName(file: GridFSFile): string {
  const original = (file.metadata as Partial<JobFileMetadata> | undefined)?.original_name;
  if (typeof original === 'string' && original !== '') return mp3FileName(original);
  return file.filename.endsWith('.mp3') ? file.filename : mp3FileName(file.filename);
}

/** 416: the Range asked for lies past the end of the file; Content-Range gives the size. */
class RangeNotSatisfiableError extends AppError {
  override name = 'RangeNotSatisfiableError';
  constructor(size: number) {
    super('RANGE_NOT_SATISFIABLE', `the range lies outside the file of ${size} bytes`, 416, false);
  }
}

function notFound(): NotFoundError {
  return new NotFoundError('FILE_NOT_FOUND', 'no MP3 with this fid is yours to download');
}

/**
 * GET /download?fid=<mp3 fid>, the original's form: the owner's (or an admin's) MP3, with a
 * Bearer token, or with a signed link (`&expires=…&sig=…`) and no token. An unknown or
 * malformed fid, someone else's MP3 and a bad or expired link all answer the same 404, so
 * ids reveal nothing. Ranges (206, 416), ETag and conditional requests (304) are served.
 */
export function downloadRoutes(deps: DownloadRoutesDeps): Router {
  const router = Router();
  const log = deps.log.child({ module: 'download' });

  router.get('/download', async (req, res) => {
    const { fid, expires, sig } = req.query;
    if (fid === undefined || fid === '') {
      throw new BadRequestError('FID_REQUIRED', 'fid is required: /download?fid=<mp3 fid>');
    }
    const signed = expires !== undefined || sig !== undefined;
    // A signed link stands in for the token; a bad one is answered like an unknown fid.
    const user = signed ? undefined : await deps.auth.validate(req.get('authorization'));
    // Anything else the document does not allow (a repeated fid, a bad expires) is a bad link.
    if (!downloadQuery.safeParse(req.query).success) throw notFound();
    if (signed && !verifyDownload(deps.linkSecret, { fid, expires, sig })) throw notFound();

    const id = parseObjectId(fid);
    if (id === undefined) throw notFound();
    const file = await findFile(deps.mp3s, id);
    if (file === undefined || (user !== undefined && !mayDownload(user, file))) throw notFound();

    const size = file.length;
    res.setHeader('Accept-Ranges', 'bytes');
    const etag = `"${file._id.toHexString()}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', file.uploadDate.toUTCString());
    // Revalidated on every use (a cheap 304), so a deleted MP3 does not live on in a browser cache.
    res.setHeader('Cache-Control', 'private, no-cache');
    res.attachment(downloadName(file));
    res.type(MP3_TYPE);
    if (req.fresh) {
      res.status(304).end();
      return;
    }

    const range = rangeToSend(req, size, etag);
    if (range === 'unsatisfiable') {
      for (const header of ['Content-Disposition', 'Content-Type', 'ETag', 'Last-Modified']) {
        res.removeHeader(header);
      }
      res.setHeader('Content-Range', formatContentRange(undefined, size));
      throw new RangeNotSatisfiableError(size);
    }
    if (range !== undefined) {
      res.status(206).setHeader('Content-Range', formatContentRange(range, size));
    }
    const length = range === undefined ? size : range.end - range.start;
    res.setHeader('Content-Length', String(length));
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    try {
      await pipeline(Readable.from(readStoredFile(deps.mp3s, file, { range })), res);
    } catch (error) {
      // Headers are out: the only way to tell the client is to cut the response short.
      if (!res.writableFinished) {
        log.warn({ err: error, fid }, 'download ended early');
        res.destroy();
      }
    }
  });

  return router;
}

function mayDownload(user: User, file: GridFSFile): boolean {
  const owner = (file.metadata as Partial<JobFileMetadata> | undefined)?.owner_id;
  return user.admin || (typeof owner === 'string' && owner === user.id);
}

/** The single range asked for, 'unsatisfiable', or undefined for the whole file. */
function rangeToSend(
  req: Request,
  size: number,
  etag: string,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const header = req.get('range');
  if (header === undefined) return undefined;
  // If-Range with a validator that no longer matches: send the whole (changed) file.
  const ifRange = req.get('if-range');
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const parsed = requestedRange(header, size);
  if (parsed.kind === 'unsatisfiable') return 'unsatisfiable';
  return parsed.kind === 'range' ? parsed.range : undefined;
}
