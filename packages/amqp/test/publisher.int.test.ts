import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { withCorrelationId } from '@mp3converter/logging';
import {
  HEADERS,
  PublishTimeoutError,
  UnroutableMessageError,
  type AmqpConnection,
} from '@mp3converter/amqp';
import {
  Inspector,
  deleteQueues,
  dropConnections,
  headersOf,
  queueNames,
  runPrefix,
} from '@mp3converter/testkit';
import { connectForTest, eventually, uniqueQueue } from './broker.ts';

const prefix = runPrefix('publisher');

describe('publish', () => {
  const queue = uniqueQueue(prefix);
  let connection: AmqpConnection;
  let inspector: Inspector;

  before(async () => {
    connection = await connectForTest(`${prefix}-main`, {
      topology: [{ queue, retryDelaysMs: [100] }],
    });
    inspector = await Inspector.open();
  });

  after(async () => {
    await connection.close();
    await inspector.close();
    await deleteQueues(prefix);
    assert.deepEqual(await queueNames(prefix), [], 'the test leaves no queue behind');
  });

  it('sends persistent JSON with its ids, time and correlation id, once confirmed', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await connection.publish(
      queue,
      { video_fid: 'abc', mp3_fid: null },
      { correlationId: 'req-42', headers: { 'x-source': 'gateway' } },
    );
    assert.deepEqual(result, { messageId: result.messageId, correlationId: 'req-42' });
    const message = await inspector.take(queue);
    assert.deepEqual(JSON.parse(message.content.toString()), { video_fid: 'abc', mp3_fid: null });
    const { properties } = message;
    assert.equal(properties.deliveryMode, 2);
    assert.equal(properties.contentType, 'application/json');
    assert.equal(properties.messageId, result.messageId);
    assert.match(result.messageId, /^[0-9a-f-]{36}$/);
    assert.equal(properties.correlationId, 'req-42');
    assert.equal(headersOf(message)[HEADERS.correlationId], 'req-42');
    assert.equal(headersOf(message)['x-source'], 'gateway');
    assert.ok(typeof properties.timestamp === 'number' && properties.timestamp >= before);
  });

  it('takes the correlation id of the work in hand when none is given', async () => {
    const result = await withCorrelationId('job-7', () => connection.publish(queue, { n: 1 }));
    assert.equal(result.correlationId, 'job-7');
    const message = await inspector.take(queue);
    assert.equal(message.properties.correlationId, 'job-7');
    assert.equal(headersOf(message)[HEADERS.correlationId], 'job-7');
  });

  it('uses a given message id, so a duplicate can be recognised', async () => {
    await connection.publish(queue, { n: 2 }, { messageId: 'job-123' });
    assert.equal((await inspector.take(queue)).properties.messageId, 'job-123');
  });

  it('refuses a correlation id that is unsafe in headers and logs', async () => {
    await assert.rejects(connection.publish(queue, {}, { correlationId: 'a b\n' }), TypeError);
  });

  it('fails instead of dropping a message for a queue that does not exist', async () => {
    await assert.rejects(
      connection.publish(`${prefix}-missing`, { n: 3 }),
      (error: unknown) => error instanceof UnroutableMessageError && error.retryable,
    );
  });

  it('fails within the timeout while the broker is unreachable', async () => {
    const name = `${prefix}-cut`;
    // A long reconnect delay keeps the connection down for the whole test.
    const cut = await connectForTest(name, { reconnectDelaySeconds: 60 });
    try {
      assert.equal(await dropConnections(name), 1);
      await eventually(() => !cut.isConnected(), 'the connection to drop');
      const started = Date.now();
      await assert.rejects(
        cut.publish(queue, { n: 4 }, { timeoutMs: 300 }),
        (error: unknown) =>
          error instanceof PublishTimeoutError && error.code === 'AMQP_PUBLISH_TIMEOUT',
      );
      const elapsed = Date.now() - started;
      // Its own 300 ms, not the connection's 3 s, and not a hang.
      assert.ok(elapsed >= 290 && elapsed < 3_000, `rejected after ${elapsed} ms`);
    } finally {
      await cut.close();
    }
    assert.equal(await inspector.count(queue), 0, 'the timed-out message was not sent later');
  });

  it('reports an unreachable broker at start as DependencyUnavailableError', async () => {
    const started = Date.now();
    await assert.rejects(
      connectForTest(`${prefix}-nowhere`, {
        url: 'amqp://guest:guest@127.0.0.1:1',
        connectTimeoutMs: 500,
      }),
      (error: unknown) => error instanceof DependencyUnavailableError && error.retryable,
    );
    assert.ok(Date.now() - started < 10_000, 'fails instead of hanging');
  });
});
