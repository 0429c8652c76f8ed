import { mongoError } from '@mp3converter/mongo';
import {
  GridFSBucket,
  type Collection,
  type Db,
  type GridFSBucketOptions,
  type GridFSChunk,
  type GridFSFile,
  ObjectId,
} from 'mongodb';

/**
 * A driver GridFSBucket that also exposes its two collections, which the driver keeps
 * private. `deleteFile`, which also cleans up after a failed upload, needs them: the
 * driver's own `delete` tells a missing file apart only by an error message.
 */
export class FileBucket extends GridFSBucket {
  readonly bucketName: string;
  readonly files: Collection<GridFSFile>;
  readonly chunks: Collection<GridFSChunk>;

  constructor(db: Db, bucketName: string, options: Omit<GridFSBucketOptions, 'bucketName'> = {}) {
    super(db, { ...options, bucketName });
    this.bucketName = bucketName;
    this.files = db.collection<GridFSFile>(`${bucketName}.files`);
    this.chunks = db.collection<GridFSChunk>(`${bucketName}.chunks`);
  }
}

/**
 * Opens the bucket `<bucketName>.files` / `<bucketName>.chunks`. The driver creates the
 * standard indexes (files `{filename, uploadDate}`, unique chunks `{files_id, n}`) on the
 * first upload into an empty bucket. The functions below reject with
 * DependencyUnavailableError when the server cannot be reached.
 */
export function openBucket(
  db: Db,
  bucketName: string,
  options: Omit<GridFSBucketOptions, 'bucketName'> = {},
): FileBucket {
  if (bucketName === '') throw new TypeError('bucketName must not be empty');
  return new FileBucket(db, bucketName, options);
}

/** The files document, or undefined when no complete file has this id. */
export async function findFile(bucket: FileBucket, id: ObjectId): Promise<GridFSFile | undefined> {
  try {
    return (await bucket.files.findOne({ _id: id })) ?? undefined;
  } catch (error) {
    throw mongoError(error);
  }
}

/**
 * Deletes the file and its chunks; a missing file is not an error. Resolves true when a
 * files document was deleted. Like the driver's `bucket.delete`, it removes the files
 * document first, so readers stop finding the file before its chunks go, and it also
 * removes chunks that have no files document.
 */
export async function deleteFile(bucket: FileBucket, id: ObjectId): Promise<boolean> {
  try {
    const { deletedCount } = await bucket.files.deleteOne({ _id: id });
    await bucket.chunks.deleteMany({ files_id: id });
    return deletedCount > 0;
  } catch (error) {
    throw mongoError(error);
  }
}

/**
 * Deletes chunks that no files document points to and whose file was begun before `olderThan`
 * (the ObjectId of a file is made when its upload opens): what an upload leaves when the server
 * went away before its own cleanup could run. Pick `olderThan` earlier than the longest an
 * upload may take, so that uploads still arriving (whose files document comes last) are never
 * touched. Walks the first chunk of every such file in batches of `batchSize`, so memory stays
 * flat however many files the bucket holds. Resolves the number of files whose chunks were
 * deleted.
 */
export async function sweepOrphanChunks(
  bucket: FileBucket,
  olderThan: Date,
  batchSize = 500,
): Promise<number> {
  const cutoff = ObjectId.createFromTime(Math.floor(olderThan.getTime() / 1000));
  let swept = 0;
  const sweep = async (ids: ObjectId[]): Promise<void> => {
    const complete = await bucket.files
      .find({ _id: { $in: ids } }, { projection: { _id: 1 } })
      .map((file) => file._id.toHexString())
      .toArray();
    const known = new Set(complete);
    const orphans = ids.filter((id) => !known.has(id.toHexString()));
    if (orphans.length === 0) return;
    await bucket.chunks.deleteMany({ files_id: { $in: orphans } });
    swept += orphans.length;
  };
  try {
    // Every upload writes chunk 0 first, and deleting a file removes its chunks in one go.
    const firstChunks = bucket.chunks
      .find({ files_id: { $lt: cutoff }, n: 0 }, { projection: { files_id: 1 } })
      .batchSize(batchSize);
    let batch: ObjectId[] = [];
    for await (const chunk of firstChunks) {
      if (chunk.files_id instanceof ObjectId) batch.push(chunk.files_id);
      if (batch.length >= batchSize) {
        await sweep(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await sweep(batch);
    return swept;
  } catch (error) {
    throw mongoError(error);
  }
}
