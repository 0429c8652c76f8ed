import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';

import {
  MongoServerError,
  ObjectId,
  type Document,
  type GridFSBucketWriteStream,
  type GridFSFile,
} from 'mongodb';

import { findFile, type FileBucket } from './bucket.ts';
import {
  FileExistsError,
  FileTooLargeError,
  UploadCleanupError,
  UploadInProgressError,
} from './errors.ts';

export interface UploadOptions {
  filename: string;
  /**
   * A deterministic id, so that a retried attempt collides instead of storing a second copy.
   * If a complete file already has it, the upload fails with FileExistsError before reading
   * the source; if another attempt is still writing it, with UploadInProgressError. The
   * other file or attempt is never touched.
   */
  id?: ObjectId;
  metadata?: Document;
  /** Kept as `metadata.contentType`: the GridFS spec deprecates the top-level field and driver 7 no longer writes it. */
  contentType?: string;
  /** A source longer than this fails the upload with FileTooLargeError. */
  maxBytes?: number;
  /**
   * With `id`: chunks under it that have no files document, and of which none was written in
   * the last `staleAfterMs`, are taken as left by a crashed attempt and deleted before
   * uploading. Without it such chunks fail the upload with UploadInProgressError. Keep it
   * far above the longest pause between two chunks of one upload plus the clock skew
   * between writers (chunk ids carry the writer's clock, in seconds).
   */
  staleAfterMs?: number;
}

export interface UploadedFile {
  id: ObjectId;
  filename: string;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  metadata: Document | undefined;
}

/** What this attempt put into the chunks collection, so that a failure removes exactly that. */
interface Progress {
  /** Bytes accepted by the upload stream. */
  bytesWritten: number;
  /** Chunks whose insert the server acknowledged: numbers 0 to chunksStored - 1. */
  chunksStored: number;
  /** The insert of chunk number `chunksStored` failed in a way that may have stored it. */
  nextChunkInDoubt: boolean;
}

/**
 * Streams `source` into a new GridFS file. Resolves once the files document is written;
 * until then the file does not exist for readers. On any failure (source error, maxBytes,
 * server error, id taken) the source is destroyed, as pipeline() does, the chunks this
 * attempt wrote are deleted, and the error is rethrown.
 *
 * It deletes exactly its own chunks (by number) instead of calling the driver's abort():
 * abort() deletes every chunk with this files_id, which with a deterministic id would
 * destroy the file or upload it collided with, and it refuses to run once end() was called,
 * which would leave the chunks behind when the files document insert fails. Chunks go in
 * one at a time, each write awaited, so no insert is still in flight when cleanup runs and
 * the unique `{files_id, n}` index makes "chunk n was acknowledged to me" mean "it is mine".
 */
export async function uploadFromStream(
  bucket: FileBucket,
  source: Readable,
  options: UploadOptions,
): Promise<UploadedFile> {
  const { filename, id = new ObjectId(), maxBytes, staleAfterMs } = options;
  try {
    if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
    if (staleAfterMs !== undefined && !(staleAfterMs > 0)) {
      throw new RangeError(`staleAfterMs must be positive, got ${staleAfterMs}`);
    }
    // A fresh ObjectId cannot collide; only a caller's id needs checking.
    if (options.id !== undefined) await ensureIdIsFree(bucket, id, staleAfterMs);
  } catch (error) {
    // Failing before pipeline() runs: destroy the source as pipeline would have, so an
    // unread file stream or child process pipe is not left open.
    source.destroy();
    throw error;
  }

  const metadata =
    options.contentType === undefined
      ? options.metadata
      : { ...options.metadata, contentType: options.contentType };
  const upload = bucket.openUploadStream(
    filename,
    metadata === undefined ? { id } : { id, metadata },
  );
  // Its errors reach writeChunks through the write callbacks and finished(); without a
  // listener the 'error' event would also be thrown as uncaught.
  upload.on('error', () => undefined);

  const progress: Progress = { bytesWritten: 0, chunksStored: 0, nextChunkInDoubt: false };
  try {
    await pipeline(source, (chunks: AsyncIterable<unknown>) =>
      writeChunks(chunks, upload, maxBytes, progress),
    );
  } catch (error) {
    upload.destroy();
    // Returns only when the files document turns out to be written after all.
    return toUploadedFile(await cleanUpFailedUpload(bucket, upload, progress, error));
  }
  if (upload.gridFSFile === null) {
    throw new Error('GridFS upload finished without a files document');
  }
  return toUploadedFile(upload.gridFSFile);
}

async function ensureIdIsFree(
  bucket: FileBucket,
  id: ObjectId,
  staleAfterMs: number | undefined,
): Promise<void> {
  const [file, newestChunk] = await Promise.all([
    bucket.files.findOne({ _id: id }, { projection: { _id: 1 } }),
    bucket.chunks.findOne({ files_id: id }, { projection: { _id: 1 }, sort: { _id: -1 } }),
  ]);
  if (file !== null) throw new FileExistsError(id);
  if (newestChunk === null) return;
  const idleMs = Date.now() - newestChunk._id.getTimestamp().getTime();
  if (staleAfterMs === undefined || idleMs < staleAfterMs) throw new UploadInProgressError(id);
  // Only chunks up to the newest one seen: a retry that starts writing right now gets ids
  // from a later second, and its chunks must survive.
  await bucket.chunks.deleteMany({ files_id: id, _id: { $lte: newestChunk._id } });
}

async function writeChunks(
  source: AsyncIterable<unknown>,
  upload: GridFSBucketWriteStream,
  maxBytes: number | undefined,
  progress: Progress,
): Promise<void> {
  const chunkSize = upload.chunkSizeBytes;
  let received = 0;
  for await (const data of source) {
    const bytes = toBytes(data);
    received += bytes.length;
    if (maxBytes !== undefined && received > maxBytes) throw new FileTooLargeError(maxBytes);

    // Pieces never cross a chunk boundary, so each write inserts at most one chunk.
    for (let offset = 0; offset < bytes.length;) {
      const size = Math.min(bytes.length - offset, chunkSize - (progress.bytesWritten % chunkSize));
      const completesChunk = (progress.bytesWritten + size) % chunkSize === 0;
      try {
        await write(upload, bytes.subarray(offset, offset + size));
      } catch (error) {
        progress.nextChunkInDoubt = completesChunk && !isDuplicateKeyError(error);
        throw error;
      }
      offset += size;
      progress.bytesWritten += size;
      if (completesChunk) progress.chunksStored += 1;
    }
  }

  // Inserts the last, partial chunk and then the files document.
  upload.end();
  try {
    await finished(upload);
  } catch (error) {
    progress.nextChunkInDoubt =
      progress.bytesWritten % chunkSize !== 0 && !isDuplicateKeyError(error);
    throw error;
  }
}

/**
 * Removes this attempt's chunks and returns the error to throw, or, when the files document
 * insert failed with an unknown outcome but the document is there, the stored file.
 */
async function cleanUpFailedUpload(
  bucket: FileBucket,
  upload: GridFSBucketWriteStream,
  progress: Progress,
  error: unknown,
): Promise<GridFSFile> {
  const id = upload.id;
  // The driver sets `done` just before inserting the files document, once every chunk
  // insert was acknowledged; failing after that means the files document insert failed.
  const filesDocFailed = upload.done;
  let thrown = error;
  try {
    if (filesDocFailed && !isDuplicateKeyError(error)) {
      const file = await findFile(bucket, id);
      if (file !== undefined && file.length === progress.bytesWritten) return file;
    }
    const ownChunks = filesDocFailed
      ? Math.ceil(progress.bytesWritten / upload.chunkSizeBytes)
      : progress.chunksStored + (progress.nextChunkInDoubt ? 1 : 0);
    if (ownChunks > 0) await bucket.chunks.deleteMany({ files_id: id, n: { $lt: ownChunks } });

    if (isDuplicateKeyError(error)) {
      thrown =
        (await findFile(bucket, id)) === undefined
          ? new UploadInProgressError(id, { cause: error })
          : new FileExistsError(id, { cause: error });
    }
  } catch (cleanupError) {
    throw new UploadCleanupError(id, error, cleanupError);
  }
  throw thrown;
}

function write(upload: GridFSBucketWriteStream, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    upload.write(bytes, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw new TypeError(`GridFS upload source yielded ${typeof data}, expected bytes`);
}

function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

function toUploadedFile(file: GridFSFile): UploadedFile {
  return {
    id: file._id,
    filename: file.filename,
    length: file.length,
    chunkSize: file.chunkSize,
    uploadDate: file.uploadDate,
    metadata: file.metadata,
  };
}
