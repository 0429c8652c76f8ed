import { STATUS_CODES } from 'node:http';

/**
 * The error model shared by every service. Each error has a stable `code` that
 * clients and logs can rely on, an HTTP `status` for the API edge, and a
 * `retryable` flag that message consumers use to choose retry or dead-letter.
 */
export interface AppErrorOptions {
  cause?: unknown;
  /** Extra machine-readable detail that is safe to show to clients. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    status: number,
    retryable: boolean,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.retryable = retryable;
    this.details = options.details;
  }
}

export interface FieldError {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  override name = 'ValidationError';
  readonly fields: FieldError[];

  constructor(message: string, fields: FieldError[], options: AppErrorOptions = {}) {
    super('VALIDATION_FAILED', message, 400, false, { ...options, details: { errors: fields } });
    this.fields = fields;
  }
}

export class BadRequestError extends AppError {
  override name = 'BadRequestError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 400, false, options);
  }
}

export type AuthScheme = 'Basic' | 'Bearer';

export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError';
  /** The scheme named in the WWW-Authenticate challenge. */
  readonly scheme: AuthScheme;
  constructor(code: string, message: string, scheme: AuthScheme, options?: AppErrorOptions) {
    super(code, message, 401, false, options);
    this.scheme = scheme;
  }
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 403, false, options);
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 404, false, options);
  }
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 409, false, options);
  }
}

export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 413, false, options);
  }
}

export class TooManyRequestsError extends AppError {
  override name = 'TooManyRequestsError';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, options?: AppErrorOptions) {
    super('TOO_MANY_REQUESTS', message, 429, true, options);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** A dependency (database, broker, another service) did not answer. */
export class DependencyUnavailableError extends AppError {
  override name = 'DependencyUnavailableError';
  readonly dependency: string;
  constructor(dependency: string, options?: AppErrorOptions) {
    super(
      'DEPENDENCY_UNAVAILABLE',
      `${dependency} is unavailable, try again later`,
      503,
      true,
      options,
    );
    this.dependency = dependency;
  }
}

/** Work that can never succeed, however often it is retried (bad input, missing file). */
export class PermanentError extends AppError {
  override name = 'PermanentError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 422, false, options);
  }
}

/** Work that failed for a reason that may pass (timeouts, a dependency restarting). */
export class TransientError extends AppError {
  override name = 'TransientError';
  constructor(code: string, message: string, options?: AppErrorOptions) {
    super(code, message, 503, true, options);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** Unknown errors are treated as retryable: a bug fix or a recovered dependency may make them pass. */
export function isRetryable(error: unknown): boolean {
  return isAppError(error) ? error.retryable : true;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** What a 503 asks the client to wait before trying again, unless the error says otherwise. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** What every problem document says; extensions (e.g. `errors`, `checks`) may be added. */
// A type alias, not an interface: callers pass object types that then count as records.
export type ProblemFields = {
  /** Defaults to the status's reason phrase ("Service Unavailable"). */
  title?: string;
  status: number;
  code: string;
  detail?: string;
};

/** An RFC 9457 problem document with the stable `code` clients switch on. */
export type Problem = ProblemFields & {
  title: string;
  type: string;
  requestId?: string;
  [extension: string]: unknown;
};

/**
 * The one shape every HTTP error answer has, whether Express (packages/http) or a worker's
 * probe server (packages/lifecycle) sends it.
 */
export function problemDocument(
  problem: ProblemFields & Record<string, unknown>,
  requestId: string | undefined,
): Problem {
  return {
    type: `urn:mp3converter:problem:${problem.code.toLowerCase().replaceAll('_', '-')}`,
    ...problem,
    title: problem.title ?? STATUS_CODES[problem.status] ?? 'Error',
    ...(requestId === undefined ? {} : { requestId }),
  };
}
