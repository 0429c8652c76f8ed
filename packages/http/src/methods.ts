import type { RequestHandler, Router } from 'express';
import { AppError } from '@mp3converter/errors';

/**
 * The methods each path answers, by path: Express's `/jobs/:jobId` or OpenAPI's
 * `/jobs/{jobId}` for one segment, and a trailing `/*` for any path below.
 */
export type AllowedMethods = Readonly<Record<string, readonly string[]>>;

/** 405: the path exists, the method does not; `Allow` lists those it has. */
export class MethodNotAllowedError extends AppError {
  override name = 'MethodNotAllowedError';
  constructor(method: string, path: string) {
    super('METHOD_NOT_ALLOWED', `${path} does not answer ${method}`, 405, false);
  }
}

/** Matched as Express matches routes: any case, an optional trailing slash. */
function pathPattern(path: string): RegExp {
  const below = path.endsWith('/*');
  const segments = (below ? path.slice(0, -2) : path)
    .split('/')
    .map((segment) =>
      /^(?::\w+|\{\w+\})$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    );
  return new RegExp(`^${segments.join('/')}${below ? '/.+' : '/?'}$`, 'i');
}

/**
 * Answers 405 with `Allow` (RFC 9110) to a method that a known path does not answer, before
 * routing: a 404 would say the path does not exist. HEAD goes with GET, as Express serves it;
 * OPTIONS is left to Express, which answers it with `Allow` itself.
 */
export function methodNotAllowed(allowed: AllowedMethods): RequestHandler {
  const table = Object.entries(allowed).map(([path, methods]) => ({
    pattern: pathPattern(path),
    methods: new Set(
      methods.flatMap((method) =>
        /^get$/i.test(method) ? ['GET', 'HEAD'] : [method.toUpperCase()],
      ),
    ),
  }));
  return (req, res, next) => {
    if (req.method === 'OPTIONS') {
      next();
      return;
    }
    const known = table.filter(({ pattern }) => pattern.test(req.path));
    if (known.length === 0 || known.some(({ methods }) => methods.has(req.method))) {
      next();
      return;
    }
    const methods = new Set(known.flatMap((entry) => [...entry.methods]));
    res.setHeader('Allow', [...methods].join(', '));
    next(new MethodNotAllowedError(req.method, req.path));
  };
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean | undefined> };
  handle: { stack?: Layer[] };
}

/** The methods of the routes of `router` (and of the routers it uses), by path. */
export function routeMethods(router: Router): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route !== undefined && typeof layer.route.path === 'string') {
        const methods = Object.keys(layer.route.methods).filter((method) => method !== '_all');
        (found[layer.route.path] ??= []).push(...methods.map((method) => method.toUpperCase()));
      } else if (Array.isArray(layer.handle.stack)) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(router.stack as unknown as Layer[]);
  return found;
}
