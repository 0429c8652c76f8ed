import {
  GridFSBucket,
  type Collection,
  type Db,
  type GridFSBucketOptions,
  type GridFSChunk,
  type GridFSFile,
  type ObjectId,
} from 'mongodb';

/**
 * A driver GridFSBucket that also exposes its two collections. The driver keeps them
 * private, and the helpers here need them to check an id before writing and to delete
 * exactly the chunks an attempt wrote.
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
 * first upload into an empty bucket; the duplicate-id handling relies on the unique one.
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
  return (await bucket.files.findOne({ _id: id })) ?? undefined;
}

/**
 * Deletes the file and its chunks; a missing file is not an error. Resolves true when a
 * files document was deleted. Like the driver's `bucket.delete`, it removes the files
 * document first, so readers stop finding the file before its chunks go, and it also
 * removes chunks that have no files document (which includes those of an upload of this
 * id still in progress).
 */
export async function deleteFile(bucket: FileBucket, id: ObjectId): Promise<boolean> {
  const { deletedCount } = await bucket.files.deleteOne({ _id: id });
  await bucket.chunks.deleteMany({ files_id: id });
  return deletedCount > 0;
}
