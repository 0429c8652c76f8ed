import { AppError, ConflictError, PayloadTooLargeError } from '@mp3converter/errors';
import type { ObjectId } from 'mongodb';

/** The upload stream delivered more than `maxBytes`; nothing was kept. */
export class FileTooLargeError extends PayloadTooLargeError {
  override name = 'FileTooLargeError';
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super('FILE_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`, {
      details: { maxBytes },
    });
    this.maxBytes = maxBytes;
  }
}

/**
 * A complete file already has this id: an earlier attempt of the same work finished.
 * Not retryable; a worker that gets it can treat its output as already stored.
 */
export class FileExistsError extends ConflictError {
  override name = 'FileExistsError';
  readonly fileId: ObjectId;

  constructor(fileId: ObjectId, options: { cause?: unknown } = {}) {
    super('FILE_EXISTS', `A file with id ${fileId.toHexString()} already exists`, {
      ...options,
      details: { fileId: fileId.toHexString() },
    });
    this.fileId = fileId;
  }
}

/**
 * Chunks with this id exist but no files document: another attempt is uploading it, or one
 * crashed and left them (see `staleAfterMs`). Retryable: the other attempt may finish
 * (then the retry gets FileExistsError) or its chunks become stale.
 */
export class UploadInProgressError extends AppError {
  override name = 'UploadInProgressError';
  readonly fileId: ObjectId;

  constructor(fileId: ObjectId, options: { cause?: unknown } = {}) {
    super(
      'UPLOAD_IN_PROGRESS',
      `Another upload of file ${fileId.toHexString()} is in progress`,
      409,
      true,
      { ...options, details: { fileId: fileId.toHexString() } },
    );
    this.fileId = fileId;
  }
}

/**
 * The upload failed (`cause`) and removing its chunks failed too (`cleanupError`), so some
 * may remain under `fileId`. A retry with the same id sees them as an upload in progress
 * until they are stale.
 */
export class UploadCleanupError extends AppError {
  override name = 'UploadCleanupError';
  readonly fileId: ObjectId;
  readonly cleanupError: unknown;

  constructor(fileId: ObjectId, cause: unknown, cleanupError: unknown) {
    super(
      'UPLOAD_CLEANUP_FAILED',
      `Upload of file ${fileId.toHexString()} failed and its chunks could not be removed`,
      503,
      true,
      { cause },
    );
    this.fileId = fileId;
    this.cleanupError = cleanupError;
  }
}
