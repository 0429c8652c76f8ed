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
