import { open } from 'node:fs/promises';

import {
  Binary,
  MongoGridFSChunkError,
  type GridFSBucketReadStream,
  type GridFSFile,
  type ObjectId,
} from 'mongodb';

import type { FileBucket } from './bucket.ts';
import type { ByteRange } from './range.ts';

/**
 * Streams the file, or only `range` (`end` exclusive, e.g. from `parseRangeHeader`). Pipe it
 * with `stream/promises.pipeline`. Problems found on reading (file missing: a driver error
 * with code 'ENOENT'; range past the end) arrive as stream errors, after any headers were
 * sent, so look the file up with `findFile` first and answer 404 or 416 from that. Server
 * errors also arrive as they come from the driver; `mongoError` (@mp3converter/mongo) tells
 * an outage from a bug.
 */
export function openDownload(
  bucket: FileBucket,
  id: ObjectId,
  range?: ByteRange,
): GridFSBucketReadStream {
  if (range !== undefined) assertByteRange(range);
  // Always both bounds: driver 7 rejects a `start` given alone ("must not be greater than
  // stream end (0)"), and it treats `end: 0` as "to the end of the file".
  const download = bucket.openDownloadStream(
    id,
    range === undefined ? {} : { start: range.start, end: range.end },
  );
  // Destroying the stream early (the client went away) leaves the driver's chunks cursor
  // open on the server until it times out; abort() closes it. Nothing is waiting for the
  // result, and the server reaps the cursor anyway if closing fails.
  download.once('close', () => {
    if (!download.readableEnded) download.abort().catch(() => undefined);
  });
  return download;
}

function assertByteRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start) {
    throw new RangeError(`Invalid byte range ${start}-${end}: need 0 <= start < end`);
  }
}

/**
 * Chunks per server reply when copying to a file: 8 × 255 KiB, about 2 MiB. The driver's
 * `openDownloadStream` takes no batch size and lets the server fill each reply (16 MiB and
 * more); every reply is a buffer of that size, kept alive by the chunks sliced from it, and
 * V8 collects such external memory late. Measured on a 200 MiB file: the stream raised the
 * process's peak RSS by about 80 MiB, these 2 MiB batches by about 25, in the same time.
 */
const COPY_BATCH_CHUNKS = 8;

/**
 * Copies the stored file `file` (its files document, from `findFile`) into a new file at
 * `path`, in the order of its chunks, checking as the driver's download stream does that none
 * is missing, extra or of the wrong size (MongoGridFSChunkError), so a file whose chunks are
 * gone is never copied short. Stops with the signal's reason when `signal` aborts; the
 * partial copy is left for the caller to remove. Server errors arrive as they come from the
 * driver; `mongoError` (@mp3converter/mongo) tells an outage from a bug.
 */
export async function downloadToFile(
  bucket: FileBucket,
  file: Pick<GridFSFile, '_id' | 'length' | 'chunkSize'>,
  path: string,
  { signal }: { signal?: AbortSignal } = {},
): Promise<void> {
  signal?.throwIfAborted();
  const expectedChunks = Math.ceil(file.length / file.chunkSize);
  const output = await open(path, 'w');
  try {
    const chunks = bucket.chunks
      .find({ files_id: file._id }, { projection: { _id: 0, n: 1, data: 1 } })
      .sort({ n: 1 })
      .batchSize(COPY_BATCH_CHUNKS);
    let expected = 0;
    let written = 0;
    // Leaving the loop early (abort, bad chunk, write error) closes the cursor on the server.
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      if (chunk.n !== expected) {
        throw new MongoGridFSChunkError(
          `${chunk.n > expected ? 'ChunkIsMissing' : 'ExtraChunk'}: got chunk ${chunk.n} of file ${file._id.toHexString()}, expected ${expected}`,
        );
      }
      // A Binary, or a Buffer when the client promotes buffers (the driver's type says Buffer).
      const stored: unknown = chunk.data;
      const data = stored instanceof Binary ? stored.buffer : chunk.data;
      if (expected >= expectedChunks) {
        throw new MongoGridFSChunkError(
          `ExtraChunk: file ${file._id.toHexString()} has only ${expectedChunks} chunks, got chunk ${chunk.n}`,
        );
      }
      const size = Math.min(file.chunkSize, file.length - written);
      if (data.byteLength !== size) {
        throw new MongoGridFSChunkError(
          `ChunkIsWrongSize: chunk ${chunk.n} of file ${file._id.toHexString()} has ${data.byteLength} bytes, expected ${size}`,
        );
      }
      await output.writeFile(data); // at the current position, unlike write() never short
      written += data.byteLength;
      expected++;
    }
    if (expected !== expectedChunks) {
      throw new MongoGridFSChunkError(
        `ChunkIsMissing: file ${file._id.toHexString()} has ${expected} of its ${expectedChunks} chunks`,
      );
    }
  } finally {
    await output.close();
  }
}
