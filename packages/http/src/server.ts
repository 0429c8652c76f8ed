import type { Express } from 'express';
import {
  startHttpServer,
  type RunningServer,
  type ServerOptions,
  type ServerTimeouts,
} from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';

export type { RunningServer, ServerTimeouts };
export type ListenOptions = ServerOptions;

/**
 * Serves `app` with bounded client timeouts (see ServerTimeouts and
 * DEFAULT_SERVER_TIMEOUTS): the gateway passes a long request timeout for
 * uploads, other services keep the short default.
 */
export function listen(app: Express, options: ListenOptions, log: Logger): Promise<RunningServer> {
  return startHttpServer(app, options, log);
}

/** An HTTP service that serves at once and prepares in the background. */
export interface HttpService {
  port: number;
  server: RunningServer;
  /** Resolves once `prepare` has. */
  ready: Promise<void>;
  /** Stops preparing, closes the server, then releases what the service holds. */
  stop(): Promise<void>;
}

export interface HttpServiceParts {
  /** Connects what the service needs (waited for while down); stopped by `signal`. */
  prepare: (signal: AbortSignal) => Promise<void>;
  /** After the server has closed: timers, connections, work cut off by the close. */
  release: () => Promise<void>;
  /** How long requests in hand get on stop before their connections are cut. */
  shutdownGraceMs?: number;
}

/**
 * The life of auth and the gateway: probes answer as soon as the port is bound, while
 * `prepare` connects (Kubernetes keeps the pod unready meanwhile); on stop, `prepare` is
 * abandoned, new requests are refused, those in hand get the grace period, and what the
 * service holds is released last.
 */
export async function serveApp(
  app: Express,
  options: ListenOptions,
  log: Logger,
  { prepare, release, shutdownGraceMs }: HttpServiceParts,
): Promise<HttpService> {
  const stopping = new AbortController();
  const server = await listen(app, options, log);
  return {
    port: server.port,
    server,
    ready: prepare(stopping.signal),
    stop: async () => {
      stopping.abort();
      await server.close(shutdownGraceMs);
      await release();
    },
  };
}
