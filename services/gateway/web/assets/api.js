// @ts-check
// Talking to the API: the session's token in the Authorization header, a refusal turned into an
// ApiError that carries the problem document, and that error in words for people.

import { describeProblem } from './messages.js';
import { maxUploadBytes } from './page.js';
import { currentSession } from './session.js';

/** @typedef {import('./messages.js').Problem} Problem */
/** @typedef {import('./messages.js').Failure} Failure */

/** A request the API refused, or one that never got an answer (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   * @param {number | undefined} retryAfterSeconds
   */
  constructor(status, problem, retryAfterSeconds) {
    super(problem.detail ?? `status ${status}`);
    this.name = 'ApiError';
    /** @type {Failure} */
    this.failure = { status, problem, retryAfterSeconds };
  }
}

/**
 * @param {number} status
 * @param {string} body
 * @param {string | null} retryAfter
 * @returns {ApiError}
 */
export function apiError(status, body, retryAfter) {
  /** @type {Problem} */
  let problem = {};
  try {
    const parsed = parseJson(body);
    if (typeof parsed === 'object' && parsed !== null) problem = /** @type {Problem} */ (parsed);
  } catch {
    // Not a problem document (a proxy's HTML page, say): the status alone tells.
  }
  const seconds = Number(retryAfter);
  return new ApiError(status, problem, retryAfter !== null && seconds >= 0 ? seconds : undefined);
}

/**
 * A call to the API. `credentials: 'omit'`: the page sends its token itself, and the browser
 * must not answer a 401's `WWW-Authenticate: Basic` with a password dialog of its own.
 * @param {string} path
 * @param {{ method?: string, headers?: Record<string, string>, body?: BodyInit, signedIn?: boolean }} [init]
 * @returns {Promise<Response>}
 */
export async function api(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { ...init.headers };
  const session = currentSession();
  if (init.signedIn !== false && session !== undefined) {
    headers['Authorization'] = `Bearer ${session.token}`;
  }
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, {}, undefined);
  }
  if (response.ok) return response;
  throw apiError(response.status, await response.text(), response.headers.get('retry-after'));
}

/**
 * The message for a failed call, in words for people.
 * @param {unknown} error
 * @param {import('./messages.js').Action} action
 * @returns {string}
 */
export function failureText(error, action) {
  if (!(error instanceof ApiError)) return `Something went wrong in this page: ${String(error)}`;
  return describeProblem(error.failure, action, { maxUploadBytes });
}

/** @param {unknown} error */
export function isSessionOver(error) {
  return error instanceof ApiError && error.failure.status === 401;
}

/**
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
export function readJson(response) {
  return response.json();
}

/**
 * @param {string} text
 * @returns {unknown}
 */
export function parseJson(text) {
  return JSON.parse(text);
}
