import type { Readable } from 'node:stream';
import { createHash, type Hash } from 'node:crypto';
import { finished, pipeline } from 'node:stream/promises';

import { mongoError } from '@mp3converter/mongo';
import type { Document, GridFSBucketWriteStream, GridFSFile, ObjectId } from 'mongodb';

import { deleteFile, type FileBucket } from './bucket.ts';
import { FileTooLargeError } from './errors.ts';

export interface UploadOptions {
  filename: string;
  /** The new file's id; default a fresh ObjectId. Pick one ahead to find a failed attempt's chunks. */
  id?: ObjectId;
  metadata?: Document;
  /** Kept as `metadata.contentType`: the GridFS spec deprecates the top-level field and driver 7 no longer writes it. */
  contentType?: string;
  /** A source longer than this fails the upload with FileTooLargeError. */
  maxBytes?: number;
  /** Hashes the content on the way through and keeps the hex digest as `metadata.sha256`. */
  sha256?: boolean;
}

export interface UploadedFile {
  id: ObjectId;
  filename: string;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  metadata: Document | undefined;
  /** The content's SHA-256 (lower-case hex), when asked for with `sha256: true`. */
  sha256: string | undefined;
}

/**
 * Streams `source` into a new GridFS file under `options.id` or a fresh ObjectId. Resolves once the files
 * document is written; until then readers do not see the file. On any failure (source
 * error, maxBytes, server error) the source is destroyed, as pipeline() does, whatever this
 * attempt wrote is deleted, and the error is rethrown, a lost server as
 * DependencyUnavailableError. A retry is a new file: to make retries harmless, give the
 * files collection a unique index on a job key in `metadata` (a repeat then fails on its
 * files document, with a duplicate key error, and leaves nothing).
 */
export async function uploadFromStream(
  bucket: FileBucket,
  source: Readable,
  options: UploadOptions,
): Promise<UploadedFile> {
  const { filename, maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
    source.destroy(); // as pipeline() would have, so an unread source is not left open
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  const metadata =
    options.contentType === undefined
      ? options.metadata
      : { ...options.metadata, contentType: options.contentType };
  const streamOptions = metadata === undefined ? {} : { metadata };
  const upload =
    options.id === undefined
      ? bucket.openUploadStream(filename, streamOptions)
      : bucket.openUploadStreamWithId(options.id, filename, streamOptions);
  // Its errors reach writeAll through the write callbacks and finished(); without a
  // listener the 'error' event would also be thrown as uncaught.
  upload.on('error', () => undefined);

  try {
    const hash = options.sha256 === true ? createHash('sha256') : undefined;
    await pipeline(source, (data: AsyncIterable<unknown>) =>
      writeAll(data, upload, maxBytes, hash),
    );
  } catch (error) {
    upload.destroy();
    // Not the driver's abort(): it refuses once end() was called, so a failed files document
    // insert would leave the chunks, and it never removes a files document whose insert
    // reported an error yet was applied (reply lost). The id is ours alone, so deleting
    // everything under it is safe. With the server gone this fails too and the chunks stay,
    // unseen: no files document points to them.
    await deleteFile(bucket, upload.id).catch(() => undefined);
    throw mongoError(error);
  }
  if (upload.gridFSFile === null) {
    throw new Error('GridFS upload finished without a files document');
  }
  return toUploadedFile(upload.gridFSFile);
}

/**
 * Writes at most one chunk's worth at a time and awaits each write, so every write inserts
 * at most one chunk and no insert is still in flight when a failure reaches the cleanup.
 * (Piping straight into the upload stream would let a chunk insert land after it.)
 */
async function writeAll(
  source: AsyncIterable<unknown>,
  upload: GridFSBucketWriteStream,
  maxBytes: number | undefined,
  hash: Hash | undefined,
): Promise<void> {
  let received = 0;
  for await (const data of source) {
    const bytes = toBytes(data);
    received += bytes.length;
    if (maxBytes !== undefined && received > maxBytes) throw new FileTooLargeError(maxBytes);
    hash?.update(bytes);
    for (let offset = 0; offset < bytes.length; offset += upload.chunkSizeBytes) {
      await write(upload, bytes.subarray(offset, offset + upload.chunkSizeBytes));
    }
  }
  if (hash !== undefined) {
    // The driver builds the files document from `options.metadata` when the stream ends
    // (mongodb src/gridfs/upload.ts, createFilesDoc), so the digest known only now is written
    // with it, in the one insert, rather than by a second update.
    upload.options.metadata = { ...upload.options.metadata, sha256: hash.digest('hex') };
  }
  // Inserts the last, partial chunk and then the files document.
  upload.end();
  await finished(upload);
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

function toUploadedFile(file: GridFSFile): UploadedFile {
  return {
    id: file._id,
    filename: file.filename,
    length: file.length,
    chunkSize: file.chunkSize,
    uploadDate: file.uploadDate,
    metadata: file.metadata,
    sha256: typeof file.metadata?.sha256 === 'string' ? file.metadata.sha256 : undefined,
  };
}
