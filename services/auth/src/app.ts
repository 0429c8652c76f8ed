import express, { type Express, type RequestHandler, type Router } from 'express';
import { DependencyUnavailableError } from '@mp3converter/errors';
import {
  accessLog,
  healthRoutes,
  notFoundHandler,
  problemHandler,
  requestContext,
  type ReadinessCheck,
} from '@mp3converter/http';
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

/** The Express app: request context and access log, probes, a readiness gate, the routes, errors. */
export function createAuthApp(deps: AuthAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.use(requestContext());
  app.use(accessLog(deps.log));
  app.use(healthRoutes({ database: deps.checkDatabase }));
  const whenReady: RequestHandler = (_req, _res, next) => {
    next(deps.isReady() ? undefined : new DependencyUnavailableError('database'));
  };
  app.use(whenReady);
  app.use(deps.routes);
  app.use(notFoundHandler());
  app.use(problemHandler(deps.log.child({ module: 'errors' })));
  return app;
}
