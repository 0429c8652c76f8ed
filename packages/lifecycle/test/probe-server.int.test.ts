import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@mp3converter/logging';
import { rawRequest, testLogLevel } from '@mp3converter/testkit';
import { startProbeServer, type ProbeServer, type ReadinessCheck } from '../src/index.ts';

const log = createLogger({ service: 'probe-test', level: testLogLevel });

interface Problem {
  type: string;
  status: number;
  code: string;
  detail: string;
  checks: Record<string, string>;
}

describe('probe server', () => {
  let broker: ReadinessCheck = () => Promise.resolve();
  let storage: ReadinessCheck = () => Promise.resolve();
  let server: ProbeServer;
  let url: string;
  const CHECK_TIMEOUT_MS = 300;

  before(async () => {
    server = await startProbeServer({
      host: '127.0.0.1',
      port: 0,
      log,
      // Indirection so that each test can change what the checks do.
      readiness: { broker: () => broker(), storage: () => storage() },
      timeoutMs: CHECK_TIMEOUT_MS,
    });
    url = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server.close();
  });

  const allOk = (): void => {
    broker = () => Promise.resolve();
    storage = () => Promise.resolve();
  };

  it('answers /readyz 200 with every check ok', async () => {
    allOk();
    const response = await rawRequest(`${url}/readyz`);
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.deepEqual(response.json(), { status: 'ready', checks: { broker: 'ok', storage: 'ok' } });
  });

  it('answers /readyz 503 as a problem with Retry-After, naming the failed checks', async () => {
    allOk();
    broker = () => Promise.reject(new Error('ECONNREFUSED'));
    const response = await rawRequest(`${url}/readyz`);
    assert.equal(response.status, 503);
    assert.equal(response.headers['content-type'], 'application/problem+json');
    assert.ok(Number(response.headers['retry-after']) > 0, 'Retry-After is a number of seconds');
    const problem = response.json<Problem>();
    assert.equal(problem.code, 'DEPENDENCY_UNAVAILABLE');
    assert.equal(problem.status, 503);
    assert.deepEqual(problem.checks, { broker: 'unavailable', storage: 'ok' });
    assert.match(problem.detail, /broker/);
    assert.doesNotMatch(response.body, /ECONNREFUSED/, 'the raw error stays in the logs');
  });

  it('answers /readyz 503 when a check hangs, after the check timeout', async () => {
    allOk();
    storage = () => new Promise<void>(() => undefined);
    const started = performance.now();
    const response = await rawRequest(`${url}/readyz`);
    const elapsedMs = performance.now() - started;
    assert.equal(response.status, 503);
    assert.deepEqual(response.json<Problem>().checks, { broker: 'ok', storage: 'unavailable' });
    assert.ok(elapsedMs >= CHECK_TIMEOUT_MS - 20, `answered after ${elapsedMs} ms`);
  });

  it('answers /healthz 200 while every dependency is down', async () => {
    broker = () => Promise.reject(new Error('down'));
    storage = () => new Promise<void>(() => undefined);
    const response = await rawRequest(`${url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('answers 404 to anything else', async () => {
    assert.equal((await rawRequest(`${url}/`)).status, 404);
    assert.equal((await rawRequest(`${url}/readyz`, { method: 'POST' })).status, 404);
    const response = await rawRequest(`${url}/metrics`);
    assert.equal(response.status, 404);
    assert.equal(response.json<Problem>().code, 'ROUTE_NOT_FOUND');
  });

  it('serves /metrics when given a source, in its content type', async () => {
    const source = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () => Promise.resolve('conversions_total 3\n'),
    };
    const other = await startProbeServer({
      host: '127.0.0.1',
      port: 0,
      log,
      readiness: {},
      metrics: source,
    });
    try {
      const response = await rawRequest(`http://127.0.0.1:${other.port}/metrics`);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], source.contentType);
      assert.equal(response.body, 'conversions_total 3\n');
    } finally {
      await other.close();
    }
  });

  it('stops answering once closed', async () => {
    const other = await startProbeServer({ host: '127.0.0.1', port: 0, log, readiness: {} });
    const otherUrl = `http://127.0.0.1:${other.port}`;
    // Connection: close, so that the next request cannot reuse a pooled socket.
    const before = await rawRequest(`${otherUrl}/readyz`, { headers: { connection: 'close' } });
    assert.equal(before.status, 200);
    await other.close();
    await assert.rejects(rawRequest(`${otherUrl}/healthz`), { code: 'ECONNREFUSED' });
  });
});
