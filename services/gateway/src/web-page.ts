import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import { NotFoundError } from '@mp3converter/errors';

/**
 * The page: `web/index.html`, and the files of `web/assets/`, served at `/assets/<name>`. The
 * folder lies beside `src/`, in the gateway image too.
 */
export const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * Security headers for every response (helmet), with a Content-Security-Policy that allows
 * only what the page uses: its own script, stylesheet, icon, API calls and audio. Forms never
 * submit by themselves (`form-action 'none'`: without the script a sign-in form would put the
 * password in a URL). No HSTS: whether the site is served over TLS is the Ingress's business.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        mediaSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
  });
}

export interface WebPageOptions {
  /** MAX_UPLOAD_BYTES: the page refuses a larger file before sending it. */
  maxUploadBytes: number;
  /** The folder of index.html and assets/; the gateway's own by default. */
  dir?: string;
}

/** The first 16 hex digits of the SHA-256 of `content`: an asset's version in its URL. */
function version(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

/**
 * GET / (the page) and GET /assets/*. The page is rendered once, at start: index.html names
 * each asset as `{{asset:<name>}}`, which becomes `/assets/<name>?v=<content hash>`, so assets
 * are cached for a year and a new release is still picked up at once, as the page itself is
 * revalidated on every load (ETag). A missing file fails the gateway's start, not a visit.
 */
export function webPageRoutes(options: WebPageOptions): Router {
  const dir = options.dir ?? WEB_DIR;
  const assets = join(dir, 'assets');
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  const versions = new Map<string, string>();
  for (const name of readdirSync(assets)) {
    versions.set(name, version(readFileSync(join(assets, name))));
    html = html.replaceAll(`{{asset:${name}}}`, `/assets/${name}?v=${String(versions.get(name))}`);
  }
  html = html.replaceAll('{{maxUploadBytes}}', String(options.maxUploadBytes));
  const unresolved = /\{\{[^}]*\}\}/.exec(html);
  if (unresolved !== null) throw new Error(`index.html names ${unresolved[0]}, which is unknown`);
  const page = Buffer.from(html);
  const etag = `"${version(page)}"`;

  const router = Router();
  router.get('/', (req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', etag);
    res.type('html');
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.send(page);
  });
  router.use(
    '/assets',
    express.static(assets, {
      index: false,
      dotfiles: 'ignore',
      immutable: true,
      maxAge: '365d',
      // Cached for good only under its own content hash (a changed file gets a new link). Any
      // other link is revalidated on every use: a module imported by another
      // (`./messages.js`), or a hash this gateway does not have (another replica's release,
      // during a rollout), which must not pin this content under that name.
      setHeaders: (res, path) => {
        const asked = new URL(res.req.url, 'http://gateway').searchParams.get('v');
        if (asked === null || asked !== versions.get(basename(path))) {
          res.setHeader('Cache-Control', 'no-cache');
        }
      },
    }),
    // Answered here: an unknown asset is a 404 of its own, never passed on to the API's routes.
    (req, _res, next) => {
      next(new NotFoundError('ASSET_NOT_FOUND', `there is no asset ${req.path}`));
    },
  );
  return router;
}
