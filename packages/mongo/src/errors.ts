import { DependencyUnavailableError } from '@mp3converter/errors';
import {
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/** The name every mapped error carries as its `dependency`. */
export const MONGODB = 'mongodb';

// The driver does not export these two classes; their `name` is stable (mongodb `src/cmap/errors.ts`).
const UNEXPORTED_UNAVAILABLE = new Set(['MongoPoolClosedError', 'MongoWaitQueueTimeoutError']);

// Server answers that mean "not now, ask again": shutting down or not (any longer) the primary.
const UNAVAILABLE_SERVER_CODES = new Set([
  91, // ShutdownInProgress
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  189, // PrimarySteppedDown
  10107, // NotWritablePrimary
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/**
 * True for errors that say the server could not be reached or did not answer in time:
 * network errors and timeouts (including a cleared connection pool), no server selectable,
 * a closed client, a server shutting down or stepping down. False for everything else,
 * including the server refusing an operation (duplicate key, validation).
 */
export function isMongoUnavailable(error: unknown): boolean {
  if (!(error instanceof MongoError)) return false;
  if (error instanceof MongoServerError) return UNAVAILABLE_SERVER_CODES.has(Number(error.code));
  return (
    error instanceof MongoNetworkError || // also timeouts and MongoPoolClearedError
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoClientClosedError ||
    UNEXPORTED_UNAVAILABLE.has(error.name)
  );
}

/**
 * The error to throw on: `DependencyUnavailableError('mongodb')` (503, retryable, the driver
 * error as `cause`) when the server was unavailable, otherwise `error` itself.
 */
export function mongoError(error: unknown): unknown {
  return isMongoUnavailable(error)
    ? new DependencyUnavailableError(MONGODB, { cause: error })
    : error;
}

/** The server refused a write because a unique index already has its key (code 11000). */
export function isDuplicateKeyError(error: unknown): error is MongoServerError {
  return error instanceof MongoServerError && error.code === 11000;
}
