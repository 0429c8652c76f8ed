import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { withCorrelationId } from '@mp3converter/logging';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../src/index.ts';

const TIMEOUT_MS = 300;

/** A stand-in for the auth service that can also misbehave, one way per path. */
class Upstream {
  readonly server: Server;
  /** TCP connections accepted so far. */
  connections = 0;
  readonly #held: ServerResponse[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        switch (req.url ?? '') {
          case '/echo':
            res.setHeader('content-type', 'application/json');
            res.end(
              JSON.stringify({
                method: req.method,
                headers: req.headers,
                body: Buffer.concat(chunks).toString(),
              }),
            );
            return;
          case '/unauthorized':
            res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('invalid token');
            return;
          case '/never-answers':
            this.#held.push(res);
            return;
          case '/stalls-body':
            res.writeHead(200, { 'content-length': '100' }).write('partial');
            this.#held.push(res);
            return;
          case '/resets':
            req.socket.destroy();
            return;
          case '/large':
            res.end(Buffer.alloc(64 * 1024, 'x'));
            return;
          default:
            res.writeHead(404).end();
        }
      });
    });
    this.server.on('connection', () => (this.connections += 1));
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.#held) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** A port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function isUnavailable(error: unknown): boolean {
  assert.ok(error instanceof DependencyUnavailableError, `got ${String(error)}`);
  assert.equal(error.dependency, 'auth');
  assert.equal(error.status, 503);
  assert.ok(error.cause !== undefined, 'the transport error is kept as the cause');
  return true;
}

describe('createHttpClient', () => {
  const upstream = new Upstream();
  let baseUrl: string;
  const clients: HttpClient[] = [];
  const client = (options: Partial<HttpClientOptions> = {}): HttpClient => {
    const created = createHttpClient({
      baseUrl,
      dependency: 'auth',
      timeoutMs: TIMEOUT_MS,
      ...options,
    });
    clients.push(created);
    return created;
  };

  before(async () => {
    baseUrl = await upstream.start();
  });

  after(async () => {
    await upstream.stop();
    await Promise.all(clients.map((created) => created.close()));
  });

  it('passes the method, headers and body through and returns the answer', async () => {
    const response = await client().request({
      method: 'POST',
      path: '/echo',
      headers: {
        authorization: 'Bearer abc.def.ghi',
        'x-forwarded-for': '203.0.113.7',
        'content-type': 'text/plain',
      },
      body: 'hello',
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    const echoed = JSON.parse(response.body.toString()) as {
      method: string;
      headers: Record<string, string>;
      body: string;
    };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.headers.authorization, 'Bearer abc.def.ghi');
    assert.equal(echoed.headers['x-forwarded-for'], '203.0.113.7');
    assert.equal(echoed.body, 'hello');
  });

  it('sends the correlation id of the work in hand as X-Request-Id unless one is given', async () => {
    const http = client();
    const echo = async (headers?: Record<string, string>) =>
      withCorrelationId('request-42', async () => {
        const response = await http.request({ method: 'GET', path: '/echo', headers });
        return (JSON.parse(response.body.toString()) as { headers: Record<string, string> })
          .headers['x-request-id'];
      });
    assert.equal(await echo(), 'request-42');
    assert.equal(await echo({ 'X-Request-Id': 'from-caller' }), 'from-caller');
  });

  it('returns error statuses as answers, not as errors', async () => {
    const response = await client().request({ method: 'POST', path: '/unauthorized' });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer');
    assert.equal(response.body.toString(), 'invalid token');
  });

  it('reuses kept-alive connections for sequential requests', async () => {
    const http = client();
    const before = upstream.connections;
    for (let i = 0; i < 10; i += 1) {
      assert.equal((await http.request({ method: 'GET', path: '/echo' })).status, 200);
    }
    // undici frees a connection a tick after its body ends, so a request sent
    // within that tick may open a second one; never one per request.
    assert.ok(upstream.connections - before <= 2, `${upstream.connections - before} connections`);
  });

  it('rejects with DependencyUnavailableError when the connection is refused', async () => {
    const http = client({ baseUrl: `http://127.0.0.1:${await closedPort()}` });
    await assert.rejects(http.request({ method: 'GET', path: '/echo' }), isUnavailable);
  });

  it('rejects with DependencyUnavailableError when the connection is reset', async () => {
    await assert.rejects(client().request({ method: 'GET', path: '/resets' }), isUnavailable);
  });

  it('rejects with DependencyUnavailableError when no answer comes within the timeout', async () => {
    const started = performance.now();
    await assert.rejects(
      client().request({ method: 'GET', path: '/never-answers' }),
      isUnavailable,
    );
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= TIMEOUT_MS - 20, `rejected after ${elapsedMs} ms`);
  });

  it('rejects with DependencyUnavailableError when the body stops coming', async () => {
    await assert.rejects(client().request({ method: 'GET', path: '/stalls-body' }), isUnavailable);
  });

  it('rejects with DependencyUnavailableError when the body exceeds the cap', async () => {
    const http = client({ maxResponseBytes: 1024 });
    await assert.rejects(http.request({ method: 'GET', path: '/large' }), isUnavailable);
    assert.equal((await client().request({ method: 'GET', path: '/large' })).body.length, 65536);
  });

  it('reports a misuse as the bug it is, not as an outage', async () => {
    await assert.rejects(
      client().request({ method: 'GET', path: '/echo', headers: { 'bad header': 'x' } }),
      (error: unknown) => !(error instanceof DependencyUnavailableError),
    );
  });
});
