// GET / and /assets/*: the page rendered at start with each asset's content hash in its link,
// the caching that follows from it, and the security headers (CSP) on every answer.

import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { listen, notFoundHandler, problemHandler } from '@mp3converter/http';
import { createLogger } from '@mp3converter/logging';
import { rawRequest } from '@mp3converter/testkit';
import { WEB_DIR, securityHeaders, webPageRoutes } from '../src/web-page.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-web-page-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Serves the page from `webDir` (the gateway's own by default) until the returned stop(). */
async function serve(
  options: { webDir?: string; maxUploadBytes?: number } = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const app = express();
  app.use(securityHeaders());
  app.use(
    webPageRoutes({
      maxUploadBytes: options.maxUploadBytes ?? 1234,
      dir: options.webDir ?? WEB_DIR,
    }),
  );
  // The gateway's own error handling, which turns errors into problem documents.
  app.use(notFoundHandler());
  const log = createLogger({ service: 'gateway', level: 'silent' });
  app.use(problemHandler(log));
  const server = await listen(app, { host: '127.0.0.1', port: 0 }, log);
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.close() };
}

function assetLinks(html: string): string[] {
  return [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
}

describe('the web page', () => {
  it('is served at / with the upload limit, versioned asset links, no-cache and an ETag (304)', async () => {
    const server = await serve({ maxUploadBytes: 24 * 1024 * 1024 });
    try {
      const page = await fetch(`${server.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      const html = await page.text();
      assert.match(html, /<meta name="max-upload-bytes" content="25165824" \/>/);
      assert.doesNotMatch(html, /\{\{/, 'every placeholder is filled');
      const links = assetLinks(html);
      assert.deepEqual(links.map((link) => link.replace(/\?v=[0-9a-f]{16}$/, '')).sort(), [
        '/assets/app.css',
        '/assets/app.js',
        '/assets/icon.svg',
      ]);

      const etag = page.headers.get('etag');
      assert.ok(etag !== null);
      // Not fetch(): it adds Cache-Control: no-cache to a conditional request, as browsers don't.
      const again = await rawRequest(`${server.url}/`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);

      for (const link of links) {
        const asset = await fetch(`${server.url}${link}`);
        assert.equal(asset.status, 200, link);
        assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
        await asset.arrayBuffer();
      }
      // Under another hash (another replica's release): served, but not pinned under that name.
      const [css] = links.filter((link) => link.startsWith('/assets/app.css'));
      const other = await fetch(
        `${server.url}${String(css).replace(/v=\w+/, 'v=0123456789abcdef')}`,
      );
      assert.equal(other.status, 200);
      assert.equal(other.headers.get('cache-control'), 'no-cache');
      await other.arrayBuffer();
      // Missing: 404 from here, not passed on to the API's routes.
      const missing = await fetch(`${server.url}/assets/nothing.js`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'ASSET_NOT_FOUND');
      // A module imported by another is linked without a hash: revalidated on every use.
      const module = await fetch(`${server.url}/assets/messages.js`);
      assert.equal(module.status, 200);
      assert.match(module.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.equal(module.headers.get('cache-control'), 'no-cache');
      await module.arrayBuffer();
    } finally {
      await server.stop();
    }
  });

  it('sends a Content-Security-Policy that allows only the page’s own script, style, media and API', async () => {
    const server = await serve();
    try {
      const page = await fetch(`${server.url}/`);
      await page.text();
      const policy = new Map(
        (page.headers.get('content-security-policy') ?? '').split(';').map((directive) => {
          const [name = '', ...values] = directive.trim().split(/\s+/);
          return [name, values.join(' ')];
        }),
      );
      assert.deepEqual(Object.fromEntries(policy), {
        'default-src': "'none'",
        'script-src': "'self'",
        'style-src': "'self'",
        'img-src': "'self'",
        'media-src': "'self'",
        'connect-src': "'self'",
        'form-action': "'none'",
        'frame-ancestors': "'none'",
        'base-uri': "'none'",
      });
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
      assert.equal(page.headers.get('strict-transport-security'), null);
    } finally {
      await server.stop();
    }
  });

  it('changes an asset’s link when its content changes, and fails at start when an asset is missing', async () => {
    const copy = join(dir, 'web');
    await cp(WEB_DIR, copy, { recursive: true });
    const first = await serve({ webDir: copy });
    const before = assetLinks(await (await fetch(`${first.url}/`)).text());
    await first.stop();

    await writeFile(join(copy, 'assets', 'app.css'), 'body { color: red; }\n');
    const second = await serve({ webDir: copy });
    const after = assetLinks(await (await fetch(`${second.url}/`)).text());
    await second.stop();
    const changed = after.filter((link) => !before.includes(link));
    assert.deepEqual(
      changed.map((link) => link.split('?')[0]),
      ['/assets/app.css'],
    );

    await rm(join(copy, 'assets', 'icon.svg'));
    assert.throws(() => webPageRoutes({ maxUploadBytes: 1, dir: copy }), /\{\{asset:icon\.svg\}\}/);
  });
});
