/**
 * The job model shared by the gateway, the converter and the notification service: the
 * document, its states and allowed transitions, and the one collection they live in.
 */
export {
  JOB_STATUSES,
  JOB_TRANSITIONS,
  mp3FileName,
  type ConversionClaim,
  type JobMover,
  type JobMoveSource,
  type JobMoves,
  type JobDocument,
  type JobError,
  type JobStatus,
  type NewJob,
  type StoredMp3,
  type StoredVideo,
} from './job.ts';
export {
  DEFAULT_PAGE_SIZE,
  JOBS_COLLECTION,
  JobStore,
  MAX_PAGE_SIZE,
  type ClaimedJob,
  type JobPage,
} from './store.ts';
export { decodeCursor, encodeCursor, type JobCursor } from './cursor.ts';
export { JOB_FILE_INDEX, ensureJobFileIndex, type JobFileMetadata } from './files.ts';
export { openJobStorage, type JobDatabases, type JobStorage } from './storage.ts';
