// @ts-check
// What the page says: the API's answers turned into sentences for people, and the numbers and
// states of a job in words. No DOM here, so that Node's tests can import it as it is.

/**
 * An RFC 9457 problem document, as the gateway and auth send them.
 * @typedef {{ type?: string, title?: string, status?: number, code?: string, detail?: string,
 *   requestId?: string, errors?: { path: string, message: string }[] }} Problem
 */
/**
 * A request that failed: status 0 when no answer came at all.
 * @typedef {{ status: number, problem: Problem, retryAfterSeconds: number | undefined }} Failure
 */
/** @typedef {'sign-in' | 'register' | 'upload' | 'list' | 'delete'} Action */
/**
 * A job as GET /jobs gives it.
 * @typedef {{ jobId: string, status: 'queued' | 'converting' | 'done' | 'failed', progress: number,
 *   filename: string, options: { bitrate: number } | { quality: number }, videoSize: number,
 *   durationSeconds?: number, mp3Size?: number, mp3Filename?: string, downloadUrl?: string,
 *   downloadUrlExpiresAt?: string, error?: string, errorCode?: string, createdAt: string,
 *   finishedAt?: string }} Job
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** @param {number} bytes */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** "in 30 seconds", "in 15 minutes": when to try again, from Retry-After. */
/** @param {number | undefined} seconds */
export function retryText(seconds) {
  if (seconds === undefined || seconds <= 1) return 'in a moment';
  if (seconds < 90) return `in ${Math.ceil(seconds)} seconds`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}

/** @param {Job['options']} options */
export function optionsText(options) {
  return 'bitrate' in options ? `${options.bitrate} kbit/s` : `VBR quality ${options.quality}`;
}

/** @param {Job} job */
export function jobStatusText(job) {
  switch (job.status) {
    case 'queued':
      return 'Waiting for a converter';
    case 'converting':
      return `Converting: ${Math.floor(job.progress)} %`;
    case 'done':
      return job.durationSeconds === undefined
        ? 'Done'
        : `Done: ${formatDuration(job.durationSeconds)}`;
    case 'failed':
      return 'Failed';
  }
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/**
 * @param {Failure} failure
 * @param {Action} action
 * @param {{ maxUploadBytes: number }} limits
 * @returns {string}
 */
export function describeProblem(failure, action, limits) {
  const { status, problem, retryAfterSeconds } = failure;
  const later = retryText(retryAfterSeconds);
  if (status === 0) {
    return action === 'upload'
      ? 'The upload was cut off: the server could not be reached or closed the connection. Check your connection and try again.'
      : action === 'list'
        ? 'The server cannot be reached. Check your connection; this page keeps trying.'
        : 'The server cannot be reached. Check your connection and try again.';
  }
  switch (problem.code ?? '') {
    case 'INVALID_CREDENTIALS':
      return 'Wrong email or password.';
    case 'CREDENTIALS_REQUIRED':
    case 'MALFORMED_CREDENTIALS':
      return 'Enter your email and password.';
    case 'TOKEN_EXPIRED':
      return 'Your session has expired. Sign in again.';
    case 'TOKEN_REQUIRED':
    case 'INVALID_TOKEN':
      return 'You are not signed in, or your session is no longer valid. Sign in again.';
    case 'TOO_MANY_REQUESTS':
      return `Too many failed attempts to sign in. Try again ${later}.`;
    case 'EMAIL_TAKEN':
      return 'An account with this email exists already: sign in instead.';
    case 'REGISTRATION_DISABLED':
      return 'This server does not take new accounts. Ask its administrator for one.';
    case 'VALIDATION_FAILED': {
      const fields = (problem.errors ?? []).map((field) =>
        field.path === '' ? field.message : `${field.path}: ${field.message}`,
      );
      const what = action === 'upload' ? 'The MP3 options are not valid' : 'Check what you entered';
      return fields.length === 0 ? `${what}.` : `${what}: ${fields.join('; ')}.`;
    }
    case 'FILE_TOO_LARGE':
      return `The file is too large: the limit is ${formatBytes(limits.maxUploadBytes)}.`;
    case 'EMPTY_FILE':
      return 'The file is empty: there is nothing to convert.';
    case 'UPLOAD_STALLED':
      return 'The upload stalled: nothing arrived for too long. Try again.';
    case 'TOO_MANY_UPLOADS':
      return `The server is busy with other uploads. Try again ${later}.`;
    case 'DEPENDENCY_UNAVAILABLE':
      return `The service is unavailable for the moment. Try again ${later}.`;
    case 'JOB_NOT_FOUND':
      return 'This conversion no longer exists.';
    default:
      break;
  }
  if (status === 401) return 'You are not signed in. Sign in again.';
  if (status === 413) {
    return `The file is too large: the limit is ${formatBytes(limits.maxUploadBytes)}.`;
  }
  if (status === 429) return `Too many attempts. Try again ${later}.`;
  if (status === 503 || status === 502 || status === 504) {
    return `The service is unavailable for the moment. Try again ${later}.`;
  }
  if (status >= 500) {
    const reference = problem.requestId === undefined ? '' : ` (request ${problem.requestId})`;
    return `The server failed to answer${reference}. Try again; if it happens again, report it with this reference.`;
  }
  return problem.detail ?? `The server refused the request (status ${status}).`;
}
