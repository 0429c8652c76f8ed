import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import express, { type Express } from 'express';
import { createLogger } from '@mp3converter/logging';
import { listen, type RunningServer, type ServerTimeouts } from '../src/index.ts';

const log = createLogger({ service: 'http-test', level: 'silent' });

/** Answers once it has read the whole request body. */
function uploadApp(): Express {
  const app = express();
  app.post('/upload', (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => res.json({ bytes }));
  });
  app.get('/', (_req, res) => res.send('ok'));
  return app;
}

async function serve(timeouts?: ServerTimeouts): Promise<RunningServer> {
  return listen(uploadApp(), { host: '127.0.0.1', port: 0, timeouts }, log);
}

/** Runs `test` against a server with these timeouts, then closes it. */
async function withServer(
  timeouts: ServerTimeouts | undefined,
  test: (running: RunningServer) => Promise<void> | void,
): Promise<void> {
  const running = await serve(timeouts);
  try {
    await test(running);
  } finally {
    await running.close(0);
  }
}

/** Far beyond any timeout under test: only a server that never closes the connection reaches it. */
const NEVER_CLOSED_MS = 10_000;

/** A raw TCP client, to send a request as slowly as an attacker would. */
async function rawClient(port: number): Promise<{
  socket: Socket;
  /** Resolves when the server closes the connection, with what it answered. */
  closed: Promise<{ data: string; elapsedMs: number }>;
}> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const started = performance.now();
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => undefined); // a reset counts as closed
  const closed = new Promise<{ data: string; elapsedMs: number }>((resolve, reject) => {
    // Fails the test rather than leaving it, and the file, waiting forever.
    const deadline = setTimeout(() => {
      reject(new Error(`the server kept the connection open for ${NEVER_CLOSED_MS} ms`));
      socket.destroy();
    }, NEVER_CLOSED_MS);
    socket.once('close', () => {
      clearTimeout(deadline);
      resolve({ data, elapsedMs: performance.now() - started });
    });
  });
  return { socket, closed };
}

const UPLOAD_HEADERS = 'POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n';

describe('listen', () => {
  it('bounds every client timeout by default', async () => {
    await withServer(undefined, ({ server }) => {
      assert.equal(server.headersTimeout, 15_000);
      assert.equal(server.requestTimeout, 60_000);
      assert.equal(server.keepAliveTimeout, 5_000);
    });
  });

  it('takes a long request timeout for uploads, keeping the headers timeout short', async () => {
    await withServer({ requestMs: 3_600_000 }, ({ server }) => {
      assert.equal(server.requestTimeout, 3_600_000);
      assert.equal(server.headersTimeout, 15_000);
    });
  });

  it('shortens the default headers timeout to a shorter request timeout', async () => {
    await withServer({ requestMs: 5_000 }, ({ server }) => {
      assert.equal(server.headersTimeout, 5_000);
    });
  });

  it('refuses a timeout that is switched off or inconsistent', async () => {
    await assert.rejects(serve({ requestMs: 0 }), RangeError);
    await assert.rejects(serve({ keepAliveMs: -1 }), RangeError);
    await assert.rejects(serve({ headersMs: 2_000, requestMs: 1_000 }), RangeError);
  });

  it('serves a request that arrives within the timeouts', async () => {
    await withServer({ headersMs: 1_000, requestMs: 2_000 }, async ({ port }) => {
      const response = await fetch(`http://127.0.0.1:${port}/upload`, {
        method: 'POST',
        body: 'x'.repeat(1000),
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { bytes: 1000 });
    });
  });

  it('answers 408 and disconnects a client that stops sending its headers', async () => {
    await withServer({ headersMs: 200, requestMs: 10_000 }, async ({ port }) => {
      const client = await rawClient(port);
      client.socket.write('POST /upload HTTP/1.1\r\nHost: test\r\n');
      const { data } = await client.closed;
      assert.match(data, /^HTTP\/1\.1 408 /);
    });
  });

  it('answers 408 and disconnects a client that sends headers and stalls its body', async () => {
    await withServer({ headersMs: 200, requestMs: 600 }, async ({ port }) => {
      const client = await rawClient(port);
      client.socket.write(`${UPLOAD_HEADERS}abc`);
      const { data, elapsedMs } = await client.closed;
      assert.match(data, /^HTTP\/1\.1 408 /);
      // After the request timeout, not the headers timeout: the headers were complete.
      assert.ok(elapsedMs >= 500, `closed after ${elapsedMs} ms`);
    });
  });

  it('answers 408 and disconnects a client that drips its body', async () => {
    await withServer({ headersMs: 200, requestMs: 600 }, async ({ port }) => {
      const client = await rawClient(port);
      // One byte every 50 ms: the socket is never idle, only the request is slow.
      const drip = setInterval(() => client.socket.write('a'), 50);
      try {
        client.socket.write(UPLOAD_HEADERS);
        const { data, elapsedMs } = await client.closed;
        assert.match(data, /^HTTP\/1\.1 408 /);
        assert.ok(elapsedMs >= 500, `closed after ${elapsedMs} ms`);
      } finally {
        clearInterval(drip);
      }
    });
  });

  it('closes an idle kept-alive connection after the keep-alive timeout', async () => {
    await withServer({ keepAliveMs: 200 }, async ({ port }) => {
      const client = await rawClient(port);
      client.socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
      const { data } = await client.closed;
      assert.match(data, /^HTTP\/1\.1 200 /);
      assert.match(data, /keep-alive/i, 'the connection was kept alive after the response');
    });
  });
});
