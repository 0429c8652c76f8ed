import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { createLogger } from '@mp3converter/logging';
import {
  healthRoutes,
  listen,
  notFoundHandler,
  problemHandler,
  requestContext,
  type RunningServer,
} from '../src/index.ts';

const log = createLogger({ service: 'http-test', level: 'silent' });

describe('healthRoutes', () => {
  let database = (): Promise<void> => Promise.resolve();
  let running: RunningServer;
  let url: string;

  before(async () => {
    const app = express();
    app.use(requestContext());
    app.use(healthRoutes({ database: () => database(), cache: () => Promise.resolve() }, 300));
    app.use(notFoundHandler());
    app.use(problemHandler(log));
    running = await listen(app, { host: '127.0.0.1', port: 0 }, log);
    url = `http://127.0.0.1:${running.port}`;
  });

  after(async () => {
    await running.close();
  });

  it('answers /readyz 200 with every check ok', async () => {
    database = () => Promise.resolve();
    const response = await fetch(`${url}/readyz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: 'ready',
      checks: { database: 'ok', cache: 'ok' },
    });
  });

  it('answers /readyz 503 as a problem with Retry-After and the request id', async () => {
    database = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:3306'));
    const response = await fetch(`${url}/readyz`, { headers: { 'x-request-id': 'probe-1' } });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.ok(Number(response.headers.get('retry-after')) > 0);
    const problem = (await response.json()) as Record<string, unknown>;
    assert.equal(problem.code, 'DEPENDENCY_UNAVAILABLE');
    assert.deepEqual(problem.checks, { database: 'unavailable', cache: 'ok' });
    assert.equal(problem.requestId, 'probe-1');
    assert.doesNotMatch(JSON.stringify(problem), /ECONNREFUSED/);
  });

  it('answers /readyz 503 when a check hangs', async () => {
    database = () => new Promise<void>(() => undefined);
    const response = await fetch(`${url}/readyz`);
    assert.equal(response.status, 503);
    assert.deepEqual(((await response.json()) as { checks: unknown }).checks, {
      database: 'unavailable',
      cache: 'ok',
    });
  });

  it('answers /healthz 200 while a dependency is down', async () => {
    database = () => Promise.reject(new Error('down'));
    const response = await fetch(`${url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });
});
