import { Binary, MongoGridFSChunkError, type GridFSChunk, type GridFSFile } from 'mongodb';

import type { FileBucket } from './bucket.ts';

/** Bytes `start` (inclusive) to `end` (exclusive) of a stored file. */
export interface ByteRange {
  start: number;
  end: number;
}

function assertByteRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start) {
    throw new RangeError(`Invalid byte range ${start}-${end}: need 0 <= start < end`);
  }
}

/**
 * Chunks per query when reading a file in order: 8 × 255 KiB, about 2 MiB. The driver's
 * `openDownloadStream` takes no batch size and lets the server fill each reply (16 MiB and
 * more); every reply is a buffer of that size, kept alive by the chunks sliced from it, and
 * V8 collects such external memory late. Measured on a 200 MiB file: the stream raised the
 * process's peak RSS by about 80 MiB, reading 2 MiB at a time by about 25, in the same time.
 */
const WINDOW_CHUNKS = 8;

type StoredFile = Pick<GridFSFile, '_id' | 'length' | 'chunkSize'>;

/**
 * Reads the stored file `file` (its files document, from `findFile`), or only `range` of it
 * (`end` exclusive), as byte arrays in order, checking as the driver's download stream does that
 * no chunk is missing, extra or of the wrong size (MongoGridFSChunkError), so a damaged file
 * is never read short. Stops with the signal's reason when `signal` aborts. Server errors
 * arrive as they come from the driver; `mongoError` (@mp3converter/mongo) tells an outage
 * from a bug.
 *
 * One query per window of `windowChunks` chunks, the next window's sent while the current one
 * is used, rather than one cursor from the first chunk: memory stays at two windows, and a
 * server that sorts a query's whole result before its first reply (SecantusDB does, 0.3 to
 * 0.4 s for a 200 MiB file) answers each window at once. On MongoDB each window is one range
 * scan of the chunks index `{files_id, n}`.
 */
export async function* readStoredFile(
  bucket: FileBucket,
  file: StoredFile,
  {
    range,
    signal,
    windowChunks = WINDOW_CHUNKS,
  }: { range?: ByteRange; signal?: AbortSignal; windowChunks?: number } = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  signal?.throwIfAborted();
  const { start, end } = range ?? { start: 0, end: file.length };
  if (range !== undefined) {
    assertByteRange(range);
    if (end > file.length) {
      throw new RangeError(
        `byte range ${start}-${end} is past the end of the file (${file.length})`,
      );
    }
  }
  if (!Number.isSafeInteger(windowChunks) || windowChunks < 1) {
    throw new RangeError(`windowChunks must be a positive integer, got ${windowChunks}`);
  }
  const fileChunks = Math.ceil(file.length / file.chunkSize);
  const firstChunk = Math.floor(start / file.chunkSize);
  const endChunk = Math.ceil(end / file.chunkSize);
  const fid = file._id.toHexString();
  /** Chunks `from` to `from + windowChunks`, never past the range. */
  const windowEnd = (from: number): number => Math.min(from + windowChunks, endChunk);
  const fetchWindow = (from: number): Promise<GridFSChunk[]> => {
    const to = windowEnd(from);
    // The window that reaches the file's last chunk is open-ended, so that extra chunks show.
    const n = to >= fileChunks ? { $gte: from } : { $gte: from, $lt: to };
    return bucket.chunks
      .find({ files_id: file._id, n }, { projection: { _id: 0, n: 1, data: 1 } })
      .sort({ n: 1 })
      .toArray();
  };
  let next: Promise<GridFSChunk[]> | undefined;
  try {
    for (let from = firstChunk; from < endChunk; from += windowChunks) {
      const window = await (next ?? fetchWindow(from));
      next = from + windowChunks < endChunk ? fetchWindow(from + windowChunks) : undefined;
      // Settled even when nobody awaits it any more (the reader stopped early).
      next?.catch(() => undefined);
      signal?.throwIfAborted();
      let expected = from;
      for (const chunk of window) {
        if (expected >= fileChunks || chunk.n < expected) {
          throw new MongoGridFSChunkError(
            `ExtraChunk: file ${fid} has ${fileChunks} chunks, got chunk ${chunk.n} after chunk ${expected - 1}`,
          );
        }
        if (chunk.n > expected) {
          throw new MongoGridFSChunkError(
            `ChunkIsMissing: got chunk ${chunk.n} of file ${fid}, expected ${expected}`,
          );
        }
        // A Binary, or a Buffer when the client promotes buffers (the driver's type says Buffer).
        const stored: unknown = chunk.data;
        const data = stored instanceof Binary ? stored.buffer : chunk.data;
        const offset = expected * file.chunkSize;
        const size = Math.min(file.chunkSize, file.length - offset);
        if (data.byteLength !== size) {
          throw new MongoGridFSChunkError(
            `ChunkIsWrongSize: chunk ${chunk.n} of file ${fid} has ${data.byteLength} bytes, expected ${size}`,
          );
        }
        expected++;
        const sliceStart = Math.max(0, start - offset);
        const sliceEnd = Math.min(size, end - offset);
        if (sliceEnd > sliceStart) yield data.subarray(sliceStart, sliceEnd);
      }
      if (expected < windowEnd(from)) {
        throw new MongoGridFSChunkError(
          `ChunkIsMissing: file ${fid} has no chunk ${expected} (it has ${fileChunks})`,
        );
      }
    }
  } finally {
    // Left early or failed: the window asked for ahead is no longer wanted.
    next?.catch(() => undefined);
  }
}
