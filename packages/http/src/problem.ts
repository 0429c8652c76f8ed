import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import {
  AppError,
  NotFoundError,
  PROBLEM_CONTENT_TYPE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  problemDocument,
  type Problem,
  type ProblemFields,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
} from '@mp3converter/errors';
import { currentCorrelationId, type Logger } from '@mp3converter/logging';

export { PROBLEM_CONTENT_TYPE, type Problem };

export type ProblemInput = ProblemFields & { errors?: unknown };

export function sendProblem(res: Response, problem: ProblemInput): void {
  // Every 503 says when to come back, so that clients and proxies retry rather than hammer.
  if (problem.status === 503 && !res.hasHeader('Retry-After')) {
    res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  }
  const body = problemDocument(problem, currentCorrelationId());
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Errors raised by Express's own body parsers carry `type` and `status`. */
interface BodyParserError {
  type: string;
  status: number;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { type?: unknown }).type === 'string' &&
    typeof (error as { status?: unknown }).status === 'number'
  );
}

const BODY_PARSER_CODES: Partial<Record<string, [number, string, string]>> = {
  'entity.parse.failed': [400, 'INVALID_JSON', 'the request body is not valid JSON'],
  'entity.too.large': [413, 'BODY_TOO_LARGE', 'the request body is too large'],
  'encoding.unsupported': [
    415,
    'UNSUPPORTED_ENCODING',
    'the request body encoding is not supported',
  ],
  'charset.unsupported': [415, 'UNSUPPORTED_CHARSET', 'the request body charset is not supported'],
  'request.aborted': [400, 'REQUEST_ABORTED', 'the request was aborted'],
  'request.size.invalid': [400, 'REQUEST_SIZE_INVALID', 'the request body size does not match'],
};

/**
 * zlib's and brotli's errors for a body that does not decompress: body-parser
 * passes them on with status 400 but without a `type`.
 */
function isDecompressionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { status, errno, code } = error as { status?: unknown; errno?: unknown; code?: unknown };
  return status === 400 && typeof errno === 'number' && typeof code === 'string';
}

/** http-errors' client errors (status 4xx, `expose`), from body-parser or another middleware. */
function isClientHttpError(error: unknown): error is { status: number } {
  if (typeof error !== 'object' || error === null) return false;
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  return expose === true && typeof status === 'number' && status >= 400 && status < 500;
}

function knownRequestError(error: unknown): [number, string, string] | undefined {
  if (isBodyParserError(error)) {
    const known = BODY_PARSER_CODES[error.type];
    if (known !== undefined) return known;
  }
  if (isDecompressionError(error)) {
    return [
      400,
      'INVALID_CONTENT_ENCODING',
      'the request body does not decompress as its Content-Encoding says',
    ];
  }
  // Their messages can quote library internals: the client gets a generic one.
  if (isClientHttpError(error)) return [error.status, 'BAD_REQUEST', 'the request was rejected'];
  return undefined;
}

/**
 * The one place where errors become responses. Known errors answer their own
 * status and code; anything else is logged in full and answered with a generic
 * 500 that carries only the request id.
 */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (!req.complete) closeAfterLinger(req, res);
    if (error instanceof AppError) {
      if (error instanceof UnauthorizedError)
        res.setHeader(
          'WWW-Authenticate',
          error.scheme === 'Basic'
            ? 'Basic realm="mp3converter", charset="UTF-8"'
            : 'Bearer realm="mp3converter"',
        );
      if (error instanceof TooManyRequestsError)
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      if (error.status >= 500) log.warn({ err: error }, 'request failed on a dependency');
      sendProblem(res, {
        status: error.status,
        code: error.code,
        detail: error.message,
        ...(error instanceof ValidationError ? { errors: error.fields } : {}),
      });
      return;
    }
    const known = knownRequestError(error);
    if (known !== undefined) {
      const [status, code, detail] = known;
      sendProblem(res, { status, code, detail });
      return;
    }
    log.error({ err: error }, 'unexpected error');
    sendProblem(res, {
      status: 500,
      code: 'INTERNAL',
      detail: 'an unexpected error occurred; quote the request id when reporting it',
    });
  };
}

/** How long the rest of an unwanted request body is read and discarded after an error answer. */
export const UNREAD_BODY_LINGER_MS = 2_000;

/**
 * An error answered before the request body was read (an upload refused): the rest of the body
 * is not wanted, but closing at once would make the client's kernel reset the connection while
 * it is still sending, and a reset can discard the answer before the client reads it (browsers,
 * fetch and most libraries do not wait for `Expect: 100-continue`). So Node reads and discards
 * the rest, as it does to keep a connection alive, but for UNREAD_BODY_LINGER_MS at most: then
 * the connection is closed, so a client cannot make the server read gigabytes it refused.
 */
function closeAfterLinger(req: Request, res: Response): void {
  res.once('finish', () => {
    if (req.complete) return;
    // Node drains only a body nobody started reading; an upload stopped midway is resumed here.
    req.resume();
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, UNREAD_BODY_LINGER_MS);
    timer.unref();
    req.socket.once('close', () => {
      clearTimeout(timer);
    });
  });
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(new NotFoundError('ROUTE_NOT_FOUND', `no route for ${req.method} ${req.path}`));
  };
}
