// GET / and /assets/*: the page rendered at start with each asset's content hash in its link
// and in its import map, the caching that follows from it, and the security headers (CSP) on
// every answer.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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

/** The page's import map: its text as it stands in the page, and what it maps. */
function importMapOf(html: string): { text: string; imports: Record<string, string> } {
  const maps = [...html.matchAll(/<script type="importmap">(.*?)<\/script>/gs)];
  assert.equal(maps.length, 1, 'one import map');
  const text = maps[0]![1]!;
  return { text, imports: (JSON.parse(text) as { imports: Record<string, string> }).imports };
}

/** What a module imports statically (`import … from '…'`, `import '…'`, `export … from '…'`). */
function importsOf(source: string): string[] {
  const statement = /^(?:import|export)\s+(?:[\w$*\s{},]*?\s*from\s*)?['"]([^'"]+)['"]/gm;
  return [...source.matchAll(statement)].map((match) => match[1]!);
}

/** The first 16 hex digits of the SHA-256 of `content`: what an asset's link says it is. */
function contentHash(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
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
      // Asked for without a hash (not through the import map): revalidated on every use.
      const module = await fetch(`${server.url}/assets/messages.js`);
      assert.equal(module.status, 200);
      assert.match(module.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.equal(module.headers.get('cache-control'), 'no-cache');
      await module.arrayBuffer();
    } finally {
      await server.stop();
    }
  });

  it('maps every module the page imports to its URL with its content hash, served and cached for good', async () => {
    const server = await serve();
    try {
      const html = await (await fetch(`${server.url}/`)).text();
      const pageUrl = `${server.url}/`;
      const { imports } = importMapOf(html);
      // What the browser does: a specifier resolved against the importing module's URL, then
      // looked up in the map, whose keys are resolved against the page's URL.
      const mapped = new Map(
        Object.entries(imports).map(([key, url]) => [
          new URL(key, pageUrl).href,
          new URL(url, pageUrl).href,
        ]),
      );
      const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html)?.[1];
      assert.ok(entry !== undefined, 'the page loads its script as a module');
      const toVisit = [new URL(entry, pageUrl).href];
      const served = new Set<string>();
      for (let url = toVisit.pop(); url !== undefined; url = toVisit.pop()) {
        if (served.has(url)) continue;
        served.add(url);
        const module = await fetch(url);
        assert.equal(module.status, 200, url);
        assert.match(module.headers.get('content-type') ?? '', /^text\/javascript/, url);
        assert.equal(
          module.headers.get('cache-control'),
          'public, max-age=31536000, immutable',
          url,
        );
        const body = Buffer.from(await module.arrayBuffer());
        assert.equal(new URL(url).searchParams.get('v'), contentHash(body), `${url}: its hash`);
        for (const specifier of importsOf(body.toString('utf8'))) {
          assert.match(specifier, /^\.\//, `${url} imports ${specifier}: a module beside it`);
          const target = mapped.get(new URL(specifier, url).href);
          assert.ok(target !== undefined, `${url} imports ${specifier}, which is not mapped`);
          toVisit.push(target);
        }
      }
      // Every module of the page is reached, under its own name: none is left unused or unmapped.
      const modules = (await readdir(join(WEB_DIR, 'assets'))).filter((name) =>
        name.endsWith('.js'),
      );
      assert.ok(modules.length > 2);
      assert.deepEqual(
        [...served].map((url) => new URL(url).pathname).sort(),
        modules.map((name) => `/assets/${name}`).sort(),
      );
      assert.deepEqual(
        Object.keys(imports).sort(),
        modules.map((name) => `/assets/${name}`).sort(),
      );
    } finally {
      await server.stop();
    }
  });

  it('sends a Content-Security-Policy that allows only the page’s own script, style, media and API', async () => {
    const server = await serve();
    try {
      const page = await fetch(`${server.url}/`);
      const html = await page.text();
      // The only inline script is the import map, allowed by its hash.
      const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)([^>]*)>/g)].map((match) => match[1]);
      assert.deepEqual(inline, [' type="importmap"']);
      const mapHash = createHash('sha256').update(importMapOf(html).text).digest('base64');
      const policyOf = (header: string | null) =>
        Object.fromEntries(
          (header ?? '').split(';').map((directive) => {
            const [name = '', ...values] = directive.trim().split(/\s+/);
            return [name, values.join(' ')];
          }),
        );
      const policy = policyOf(page.headers.get('content-security-policy'));
      assert.deepEqual(policy, {
        'default-src': "'none'",
        'script-src': `'self' 'sha256-${mapHash}'`,
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
      // Every other answer allows no inline script at all.
      const asset = await fetch(`${server.url}${String(assetLinks(html)[0])}`);
      await asset.arrayBuffer();
      assert.deepEqual(policyOf(asset.headers.get('content-security-policy')), {
        ...policy,
        'script-src': "'self'",
      });
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

    // A module imported by another: only its own entry in the import map changes, and the page
    // allows the new map (the modules that import it keep their links, and their cache).
    const mapBefore = importMapOf(
      await (async () => {
        const server = await serve({ webDir: copy });
        const html = await (await fetch(`${server.url}/`)).text();
        await server.stop();
        return html;
      })(),
    ).imports;
    await appendFile(join(copy, 'assets', 'messages.js'), '// changed\n');
    const third = await serve({ webDir: copy });
    const page = await fetch(`${third.url}/`);
    const html = await page.text();
    await third.stop();
    assert.deepEqual(assetLinks(html), after, 'the links in the page are the same');
    const map = importMapOf(html);
    const moved = Object.keys(map.imports).filter((key) => map.imports[key] !== mapBefore[key]);
    assert.deepEqual(moved, ['/assets/messages.js']);
    assert.ok(
      (page.headers.get('content-security-policy') ?? '').includes(
        `'sha256-${createHash('sha256').update(map.text).digest('base64')}'`,
      ),
    );

    await rm(join(copy, 'assets', 'icon.svg'));
    assert.throws(() => webPageRoutes({ maxUploadBytes: 1, dir: copy }), /\{\{asset:icon\.svg\}\}/);
  });
});
