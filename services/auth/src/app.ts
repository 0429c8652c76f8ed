import type { Express, RequestHandler, Router } from 'express';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { createServiceApp, routeMethods, type ReadinessCheck } from '@mp3converter/http';
import type { Logger } from '@mp3converter/logging';

export interface AuthAppDeps {
  log: Logger;
  routes: Router;
  /** Express "trust proxy": which hops may set X-Forwarded-For. */
  trustProxy: string;
  /** False until migrations have run: requests answer 503 meanwhile. */
  isReady: () => boolean;
  checkDatabase: ReadinessCheck;
}

/**
 * The Express app: request context and access log, 405 for a route's unknown method, probes, a
 * readiness gate, the routes, errors.
 */
export function createAuthApp(deps: AuthAppDeps): Express {
  const whenReady: RequestHandler = (_req, _res, next) => {
    next(deps.isReady() ? undefined : new DependencyUnavailableError('database'));
  };
  return createServiceApp({
    log: deps.log,
    trustProxy: deps.trustProxy,
    readiness: { database: deps.checkDatabase },
    methods: routeMethods(deps.routes),
    routes: [whenReady, deps.routes],
  });
}
