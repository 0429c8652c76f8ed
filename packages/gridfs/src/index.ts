export { FileBucket, deleteFile, findFile, openBucket, sweepOrphanChunks } from './bucket.ts';
export { readStoredFile } from './download.ts';
export { FileTooLargeError } from './errors.ts';
export { parseObjectId } from './object-id.ts';
export {
  formatContentRange,
  parseRangeHeader,
  type ByteRange,
  type RangeHeaderResult,
} from './range.ts';
export { uploadFromStream, type UploadedFile, type UploadOptions } from './upload.ts';
