import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@mp3converter/logging';

/**
 * How long a client may take, in milliseconds. None of them can be switched
 * off: a client that sends headers and then stalls its body would otherwise
 * hold a socket forever.
 */
export interface ServerTimeouts {
  /** To send the complete request headers. */
  headersMs?: number;
  /** To send the complete request, body included (uploads need a long one). */
  requestMs?: number;
  /** An idle kept-alive connection stays open this long. */
  keepAliveMs?: number;
}

export const DEFAULT_SERVER_TIMEOUTS = Object.freeze({
  headersMs: 15_000,
  requestMs: 60_000,
  keepAliveMs: 5_000,
});

export interface ServerOptions {
  host: string;
  /** 0 picks a free port; see RunningServer.port. */
  port: number;
  timeouts?: ServerTimeouts;
}

export interface RunningServer {
  server: Server;
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Stops accepting connections and waits for requests in flight, up to `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`timeouts.${name} must be a positive number of milliseconds`);
  }
  return value;
}

/** Node's createServer options for the given timeouts, defaults filled in. */
function serverTimeoutOptions(timeouts: ServerTimeouts = {}) {
  const requestMs = positive('requestMs', timeouts.requestMs ?? DEFAULT_SERVER_TIMEOUTS.requestMs);
  // Node refuses a headers timeout longer than the request timeout.
  const headersMs = positive(
    'headersMs',
    timeouts.headersMs ?? Math.min(DEFAULT_SERVER_TIMEOUTS.headersMs, requestMs),
  );
  if (headersMs > requestMs) {
    throw new RangeError('timeouts.headersMs must not exceed timeouts.requestMs');
  }
  const keepAliveMs = positive(
    'keepAliveMs',
    timeouts.keepAliveMs ?? DEFAULT_SERVER_TIMEOUTS.keepAliveMs,
  );
  return {
    headersTimeout: headersMs,
    requestTimeout: requestMs,
    keepAliveTimeout: keepAliveMs,
    // Node enforces the two request timeouts only when it sweeps its
    // connections, every 30 s by default; sweep often enough that they fire
    // close to their deadline.
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersMs / 4))),
  };
}

/**
 * A node:http server with bounded client timeouts, listening once the promise
 * resolves. Express apps are request listeners too.
 */
export async function startHttpServer(
  handler: RequestListener,
  options: ServerOptions,
  log: Logger,
): Promise<RunningServer> {
  const server = createServer(serverTimeoutOptions(options.timeouts), handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  log.info({ host: options.host, port }, 'listening');
  return {
    server,
    port,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
