import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import helmet, { contentSecurityPolicy } from 'helmet';
import { NotFoundError } from '@mp3converter/errors';

/**
 * The page: `web/index.html`, and the files of `web/assets/`, served at `/assets/<name>`. The
 * folder lies beside `src/`, in the gateway image too.
 */
export const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * The Content-Security-Policy: only what the page uses, its own scripts, stylesheet, icon, API
 * calls and audio, and no inline code. Forms never submit by themselves (`form-action 'none'`:
 * without the script a sign-in form would put the password in a URL).
 */
const POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  mediaSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/**
 * Security headers for every response (helmet), with the Content-Security-Policy above. No
 * HSTS: whether the site is served over TLS is the Ingress's business.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: POLICY },
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
 * The import map of the page's modules: each module's plain URL, which is what an `import
 * './x.js'` in another module resolves to, mapped to its URL with its content hash. The JSON
 * goes inline in the page; `<` is escaped so that no name can close the script element.
 */
function importMap(urls: Map<string, string>): string {
  const imports = Object.fromEntries(
    [...urls]
      .filter(([name]) => name.endsWith('.js'))
      .map(([name, url]) => [`/assets/${name}`, url]),
  );
  return JSON.stringify({ imports }).replaceAll('<', '\\u003c');
}

/**
 * GET / (the page) and GET /assets/*. The page is rendered once, at start: index.html names
 * each asset as `{{asset:<name>}}`, which becomes `/assets/<name>?v=<content hash>`, and
 * `{{importmap}}` becomes an import map that sends every module's import of another to that
 * module's hashed URL too. So assets are cached for a year and a new release is still picked up
 * at once, as the page itself is revalidated on every load (ETag). The import map is inline
 * script content: the page's Content-Security-Policy allows it, and only it, by its hash. A
 * missing file fails the gateway's start, not a visit.
 */
export function webPageRoutes(options: WebPageOptions): Router {
  const dir = options.dir ?? WEB_DIR;
  const assets = join(dir, 'assets');
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  const versions = new Map<string, string>();
  const urls = new Map<string, string>();
  for (const name of readdirSync(assets)) {
    versions.set(name, version(readFileSync(join(assets, name))));
    urls.set(name, `/assets/${name}?v=${String(versions.get(name))}`);
    html = html.replaceAll(`{{asset:${name}}}`, String(urls.get(name)));
  }
  const map = importMap(urls);
  html = html.replaceAll('{{importmap}}', `<script type="importmap">${map}</script>`);
  html = html.replaceAll('{{maxUploadBytes}}', String(options.maxUploadBytes));
  const unresolved = /\{\{[^}]*\}\}/.exec(html);
  if (unresolved !== null) throw new Error(`index.html names ${unresolved[0]}, which is unknown`);
  const page = Buffer.from(html);
  const etag = `"${version(page)}"`;
  const mapHash = createHash('sha256').update(map).digest('base64');
  const pagePolicy = contentSecurityPolicy({
    useDefaults: false,
    directives: { ...POLICY, scriptSrc: [...POLICY.scriptSrc, `'sha256-${mapHash}'`] },
  });

  const router = Router();
  router.get('/', pagePolicy, (req, res) => {
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
      // other link is revalidated on every use: one without a hash, or a hash this gateway
      // does not have (another replica's release, during a rollout), which must not pin this
      // content under that name.
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
