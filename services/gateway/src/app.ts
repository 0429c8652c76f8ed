import type { IncomingMessage } from 'node:http';
import { Router, type Express, type RequestHandler } from 'express';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { createServiceApp, type AllowedMethods, type ReadinessCheck } from '@mp3converter/http';
import type { Logger } from '@mp3converter/logging';
import type { GatewayMetrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { securityHeaders } from './web-page.ts';

/** POST /upload, matched as Express matches routes: any case, an optional trailing slash. */
export function isUploadRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && /^\/upload\/?(?:\?|$)/i.test(req.url ?? '');
}

/**
 * The server's request timeout is long, for uploads; any other request whose body trickles in
 * (a slow-loris client) is cut off after `timeoutMs`.
 */
function bodyDeadline(timeoutMs: number): RequestHandler {
  return (req, res, next) => {
    if (!req.complete && !isUploadRequest(req)) {
      const timer = setTimeout(() => {
        if (!req.complete) req.destroy();
      }, timeoutMs);
      timer.unref();
      res.once('close', () => {
        clearTimeout(timer);
      });
    }
    next();
  };
}

export interface GatewayAppDeps {
  log: Logger;
  metrics: GatewayMetrics;
  /** Express "trust proxy": which hops may set X-Forwarded-For. */
  trustProxy: string;
  /** Every request but an upload must have sent its whole body within this time. */
  bodyTimeoutMs: number;
  /** The web page at / and its assets. */
  webPage: Router;
  /** Routes that work without MongoDB and RabbitMQ (the auth pass-through). */
  accountRoutes: Router;
  /** Routes that need MongoDB and RabbitMQ: answered 503 until they are connected. */
  routes: () => Router | undefined;
  readiness: Record<string, ReadinessCheck>;
}

/** The document's paths and methods, and the web page's assets. */
function allowedMethods(): AllowedMethods {
  const methods: Record<string, string[]> = { '/assets/*': ['GET'] };
  for (const [path, item] of Object.entries(openApiDocument.paths)) {
    methods[path] = Object.keys(item).filter((key) => key !== 'parameters');
  }
  return methods;
}

/**
 * The Express app: request context, security headers, metrics and access log, probes, the
 * OpenAPI document, the web page, the routes, errors. Any Host is answered (the Ingress routes
 * mp3converter.com here). A method that a path of the document (or an asset) does not answer
 * is a 405.
 */
export function createGatewayApp(deps: GatewayAppDeps): Express {
  const operations = Router();
  operations.get('/metrics', deps.metrics.handler());
  operations.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(openApiDocument);
  });
  const whenConnected: RequestHandler = (req, res, next) => {
    const routes = deps.routes();
    if (routes === undefined) {
      next(new DependencyUnavailableError('mongodb, rabbitmq'));
      return;
    }
    routes(req, res, next);
  };
  const app = createServiceApp({
    log: deps.log,
    trustProxy: deps.trustProxy,
    early: [bodyDeadline(deps.bodyTimeoutMs), securityHeaders(), deps.metrics.middleware()],
    readiness: deps.readiness,
    methods: allowedMethods(),
    routes: [operations, deps.webPage, deps.accountRoutes, whenConnected],
  });
  app.set('etag', false);
  return app;
}
