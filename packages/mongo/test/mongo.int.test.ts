import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { DependencyUnavailableError } from '@mp3converter/errors';
import { createLogger } from '@mp3converter/logging';
import {
  startTcpProxy,
  testLogLevel,
  testServers,
  waitFor,
  type TcpProxy,
} from '@mp3converter/testkit';
import { MongoServerSelectionError } from 'mongodb';

import { connectMongo, mongoError, type MongoConnection } from '../src/index.ts';

const dbName = `mp3test_mongo_${randomUUID().replaceAll('-', '')}`;
const serverPort = Number(new URL(testServers.mongoUrl).port);
const logger = createLogger({ service: 'mongo-test', level: testLogLevel });

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

/** A logger that keeps every line it writes, parsed. */
function recordingLogger(): { logger: typeof logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as { msg: string });
      done();
    },
  });
  return { logger: createLogger({ service: 'mongo-test', level: 'info' }, sink), lines };
}

describe('connectMongo', () => {
  let direct: MongoConnection;

  before(async () => {
    direct = await connectMongo({
      url: `mongodb://127.0.0.1:${serverPort}/${dbName}?directConnection=true`,
      logger,
      appName: 'mongo-test',
    });
  });

  after(async () => {
    await direct.db().dropDatabase();
    const { databases } = await direct.client.db().admin().listDatabases({ nameOnly: true });
    assert.ok(!databases.some((d) => d.name === dbName), 'test database left behind');
    await direct.close();
  });

  it('connects, answers ping and opens the database named in the URL by default', async () => {
    await direct.ping();
    assert.equal(direct.db().databaseName, dbName);
    assert.equal(direct.db('other').databaseName, 'other');
    await direct.db().collection('things').insertOne({ n: 1 });
    assert.equal(await direct.db().collection('things').countDocuments(), 1);
  });

  it('fails with DependencyUnavailableError within the timeout when nothing listens', async () => {
    const port = await closedPort();
    const started = performance.now();
    await assert.rejects(
      connectMongo({
        url: `mongodb://127.0.0.1:${port}/${dbName}?directConnection=true`,
        logger,
        appName: 'mongo-test',
        serverSelectionTimeoutMs: 500,
      }),
      (error: unknown) => {
        assert.ok(error instanceof DependencyUnavailableError, String(error));
        assert.equal(error.dependency, 'mongodb');
        assert.ok(error.cause instanceof MongoServerSelectionError);
        return true;
      },
    );
    assert.ok(performance.now() - started < 15_000, 'failed within 15 s, not hanging');
  });

  describe('through a proxy that can cut the server off', () => {
    let proxy: TcpProxy;

    before(async () => {
      proxy = await startTcpProxy(serverPort);
    });

    after(async () => {
      await proxy.close();
    });

    const connectViaProxy = (log = logger) =>
      connectMongo({
        url: `mongodb://127.0.0.1:${proxy.port}/${dbName}?directConnection=true`,
        logger: log,
        appName: 'mongo-test',
        serverSelectionTimeoutMs: 1_000,
      });

    it('ping() rejects with DependencyUnavailableError while cut and resolves after restore', async () => {
      const mongo = await connectViaProxy();
      try {
        await mongo.ping();
        await proxy.cut();
        try {
          const started = performance.now();
          await assert.rejects(mongo.ping(), DependencyUnavailableError);
          assert.ok(performance.now() - started < 15_000, 'rejected within 15 s, not hanging');
        } finally {
          await proxy.restore();
        }
        await mongo.ping();
        assert.equal(await mongo.db().collection('things').countDocuments({ n: 99 }), 0);
      } finally {
        await mongo.close();
      }
    });

    it('fails an operation with DependencyUnavailableError while the server stalls', async () => {
      const mongo = await connectMongo({
        url: `mongodb://127.0.0.1:${proxy.port}/${dbName}?directConnection=true`,
        appName: 'mongo-test',
        serverSelectionTimeoutMs: 1_000,
        socketTimeoutMs: 2_000,
      });
      const things = mongo.db().collection('things');
      try {
        await mongo.ping();
        proxy.stall(); // connections stay open; nothing gets through
        try {
          const started = performance.now();
          await assert.rejects(
            things.countDocuments({ n: 98 }).catch((error: unknown) => {
              throw mongoError(error);
            }),
            DependencyUnavailableError,
          );
          assert.ok(performance.now() - started < 15_000, 'rejected within 15 s, not hanging');
        } finally {
          proxy.resume();
        }
        await waitFor(async () => (await things.countDocuments({ n: 98 }).catch(() => -1)) === 0, {
          what: 'an operation after the stall',
        });
      } finally {
        await mongo.close();
      }
    });

    it('logs when the server becomes unreachable and when it is back', async () => {
      const recorded = recordingLogger();
      const mongo = await connectViaProxy(recorded.logger);
      const messages = () => recorded.lines.map((line) => line.msg);
      try {
        assert.deepEqual(messages(), ['mongodb connected']);
        await proxy.cut();
        try {
          await waitFor(() => messages().includes('mongodb unreachable'), {
            what: 'the unreachable log line',
          });
        } finally {
          await proxy.restore();
        }
        await mongo.ping();
        await waitFor(() => messages().includes('mongodb reachable again'), {
          what: 'the reachable-again log line',
        });
      } finally {
        await mongo.close();
      }
      assert.equal(messages().at(-1), 'mongodb connection closed');
    });
  });
});
