import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { currentCorrelationId } from '@mp3converter/logging';

export interface HttpClientOptions {
  /** Scheme, host and port of the other service, e.g. http://auth:5000. */
  baseUrl: string;
  /** Named in the DependencyUnavailableError when the other service does not answer. */
  dependency: string;
  /** Bounds a whole request: waiting for a connection, connecting, the response headers and body. */
  timeoutMs: number;
  /**
   * How long an idle connection is kept for reuse. Shorter than the server's
   * own keep-alive timeout (5 s by default), so that the client, not the
   * server, closes it and a request is never sent on a socket being closed.
   */
  keepAliveMs?: number;
  /** At most this many connections at once; further requests wait for one. */
  connections?: number;
  /** A larger response body fails the request. */
  maxResponseBytes?: number;
}

export interface OutboundRequest {
  method: Dispatcher.HttpMethod;
  /** Path and query, e.g. /validate. */
  path: string;
  /** Sent as given (Authorization, X-Forwarded-For...); X-Request-Id defaults to the current correlation id. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClient {
  /**
   * Answers whatever status the other service answers; rejects with
   * DependencyUnavailableError when it cannot be reached, resets the
   * connection, answers nothing usable or nothing within the timeout.
   */
  request(request: OutboundRequest): Promise<OutboundResponse>;
  /** Waits for requests in flight, then closes every connection. */
  close(): Promise<void>;
}

export const DEFAULT_CLIENT_KEEP_ALIVE_MS = 4_000;
export const DEFAULT_CLIENT_CONNECTIONS = 16;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Errors in how the client is used, not in the other service: they are bugs, not outages. */
const USAGE_ERRORS = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

function isUsageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && USAGE_ERRORS.has(code);
}

/** A keep-alive connection pool to one other service, for calls that must not hang. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { timeoutMs, dependency } = options;
  const pool = new Pool(options.baseUrl, {
    connections: options.connections ?? DEFAULT_CLIENT_CONNECTIONS,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: options.keepAliveMs ?? DEFAULT_CLIENT_KEEP_ALIVE_MS,
    // Caps the server's Keep-Alive hint too.
    keepAliveMaxTimeout: options.keepAliveMs ?? DEFAULT_CLIENT_KEEP_ALIVE_MS,
    maxResponseSize: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });

  return {
    request: async ({ method, path, headers = {}, body }) => {
      const correlationId = currentCorrelationId();
      const hasRequestId = Object.keys(headers).some(
        (name) => name.toLowerCase() === 'x-request-id',
      );
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const response = await pool.request({
          method,
          path,
          headers:
            correlationId === undefined || hasRequestId
              ? headers
              : { ...headers, 'x-request-id': correlationId },
          body: body ?? null,
          signal,
        });
        return {
          status: response.statusCode,
          headers: response.headers,
          body: Buffer.from(await response.body.bytes()),
        };
      } catch (error) {
        if (!signal.aborted && isUsageError(error)) throw error;
        throw new DependencyUnavailableError(dependency, { cause: error });
      }
    },
    close: () => pool.close(),
  };
}
