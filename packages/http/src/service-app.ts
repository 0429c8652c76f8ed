import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '@mp3converter/logging';
import { healthRoutes, type ReadinessCheck } from './health.ts';
import { methodNotAllowed, type AllowedMethods } from './methods.ts';
import { notFoundHandler, problemHandler } from './problem.ts';
import { accessLog, requestContext } from './request-context.ts';

export interface ServiceAppOptions {
  log: Logger;
  /** Express "trust proxy": which hops may set X-Forwarded-For. */
  trustProxy: string;
  /** Run in the request's context, before its access log line is started (headers, metrics). */
  early?: RequestHandler[];
  /** /readyz's checks. */
  readiness: Record<string, ReadinessCheck>;
  /** Every path the service answers and its methods: other methods there answer 405. */
  methods: AllowedMethods;
  /** The service's own routes, in order. */
  routes: (Router | RequestHandler)[];
}

/**
 * The Express app of a service: request context, access log, 405 for a known path's unknown
 * method, probes, the service's routes, then errors as problem documents (404 for an unknown
 * path).
 */
export function createServiceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.use(requestContext());
  for (const handler of options.early ?? []) app.use(handler);
  app.use(accessLog(options.log));
  app.use(methodNotAllowed({ '/healthz': ['GET'], '/readyz': ['GET'], ...options.methods }));
  app.use(healthRoutes(options.readiness));
  for (const routes of options.routes) app.use(routes);
  app.use(notFoundHandler());
  app.use(problemHandler(options.log.child({ module: 'errors' })));
  return app;
}
