import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import {
  newCorrelationId,
  sanitizeCorrelationId,
  withCorrelationId,
  currentCorrelationId,
  type Logger,
} from '@mp3converter/logging';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Gives every request a correlation id (the caller's X-Request-Id when it is
 * sane, a new one otherwise), echoes it back, and runs the rest of the request
 * inside it so that logs and published messages carry it.
 */
export function requestContext(): RequestHandler {
  return (req, res, next) => {
    const id = sanitizeCorrelationId(req.get(REQUEST_ID_HEADER)) ?? newCorrelationId();
    res.setHeader('X-Request-Id', id);
    withCorrelationId(id, next);
  };
}

const QUIET_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The URL as logged: without its query, since clients do put tokens and
 * signed links there (`?token=...`, even a bare `?<jwt>`), and logs are kept
 * longer and read by more people than the requests themselves.
 */
function loggableUrl(url: string): string {
  const mark = url.indexOf('?');
  return mark === -1 ? url : `${url.slice(0, mark)}?[redacted]`;
}

/** One access log line per request; probes are not logged. */
export function accessLog(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log.child({ module: 'http' }),
    genReqId: (_req, res) => currentCorrelationId() ?? String(res.getHeader('X-Request-Id')),
    autoLogging: { ignore: (req) => QUIET_PATHS.has(req.url.split('?')[0] ?? '') },
    customLogLevel: (_req, res, error) =>
      error !== undefined || res.statusCode >= 500
        ? 'error'
        : res.statusCode >= 400
          ? 'warn'
          : 'info',
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
    serializers: {
      req: (req: { method: string; url: string }) => ({
        method: req.method,
        url: loggableUrl(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
