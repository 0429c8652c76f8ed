import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Router } from 'express';
import { createLogger } from '@mp3converter/logging';
import { createServiceApp, listen, routeMethods, type RunningServer } from '../src/index.ts';

const log = createLogger({ service: 'http-test', level: 'silent' });

describe('a service app', () => {
  let running: RunningServer;
  let url: string;

  before(async () => {
    const routes = Router();
    routes.post('/login', (_req, res) => {
      res.send('in');
    });
    routes.get('/items/:id', (_req, res) => {
      res.json({});
    });
    routes.delete('/items/:id', (_req, res) => {
      res.status(204).end();
    });
    const app = createServiceApp({
      log,
      trustProxy: 'loopback',
      readiness: {},
      methods: { ...routeMethods(routes), '/files/*': ['GET'] },
      routes: [routes],
    });
    running = await listen(app, { host: '127.0.0.1', port: 0 }, log);
    url = `http://127.0.0.1:${running.port}`;
  });

  after(async () => {
    await running.close();
  });

  async function problem(response: Response): Promise<{ code?: string; status?: number }> {
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    return (await response.json()) as { code?: string; status?: number };
  }

  it('answers 405 with Allow to a method a known path does not answer', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/login', 'POST'],
      ['GET', '/login', 'POST'],
      ['PUT', '/items/42', 'GET, HEAD, DELETE'],
      ['POST', '/ITEMS/42/', 'GET, HEAD, DELETE'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/readyz', 'GET, HEAD'],
      ['PATCH', '/files/a/b.js', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${url}${path}`, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
      const body = await problem(response);
      assert.equal(body.code, 'METHOD_NOT_ALLOWED');
      assert.equal(body.status, 405);
    }
  });

  it('serves the methods a path has, HEAD with GET', async () => {
    assert.equal((await fetch(`${url}/login`, { method: 'POST' })).status, 200);
    assert.equal((await fetch(`${url}/items/1`)).status, 200);
    assert.equal((await fetch(`${url}/items/1`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${url}/items/1`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${url}/healthz`, { method: 'HEAD' })).status, 200);
  });

  it('leaves OPTIONS to Express, and answers 404 for an unknown path whatever the method', async () => {
    const options = await fetch(`${url}/items/1`, { method: 'OPTIONS' });
    assert.equal(options.status, 200);
    assert.match(options.headers.get('allow') ?? '', /DELETE/);
    await options.body?.cancel();
    for (const method of ['GET', 'PUT', 'POST']) {
      const response = await fetch(`${url}/nowhere`, { method });
      assert.equal(response.status, 404, method);
      assert.equal((await problem(response)).code, 'ROUTE_NOT_FOUND');
    }
    const below = await fetch(`${url}/items/1/more`, { method: 'PUT' });
    assert.equal(below.status, 404);
    await below.body?.cancel();
  });

  it('reads the methods of a router, with those of the routers it uses', () => {
    const inner = Router();
    inner.get('/b', () => undefined);
    const outer = Router();
    outer.post('/a', () => undefined);
    outer.get('/a', () => undefined);
    outer.use(inner);
    assert.deepEqual(routeMethods(outer), { '/a': ['POST', 'GET'], '/b': ['GET'] });
  });
});
