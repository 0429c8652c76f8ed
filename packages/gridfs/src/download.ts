import type { GridFSBucketReadStream, ObjectId } from 'mongodb';

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
