export { FileBucket, deleteFile, findFile, openBucket, sweepOrphanChunks } from './bucket.ts';
export { readStoredFile, type ByteRange } from './download.ts';
export { FileTooLargeError } from './errors.ts';
export { parseObjectId } from './object-id.ts';
export { uploadFromStream, type UploadedFile, type UploadOptions } from './upload.ts';
