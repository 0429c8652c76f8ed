import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import {
  TopologyError,
  WORK_QUEUE_DELIVERY_LIMIT,
  deadQueueName,
  declareTopology,
  retryQueueName,
  type AmqpConnection,
} from '@mp3converter/amqp';
import {
  Inspector,
  deleteQueues,
  dropConnections,
  getQueue,
  queueNames,
  runPrefix,
} from '@mp3converter/testkit';
import { connectForTest, eventually, uniqueQueue } from './broker.ts';

const prefix = runPrefix('topology');

describe('topology', () => {
  let inspector: Inspector;
  const connections: AmqpConnection[] = [];

  before(async () => {
    inspector = await Inspector.open();
  });

  after(async () => {
    await Promise.all(connections.map((connection) => connection.close()));
    await inspector.close();
    await deleteQueues(prefix);
    assert.deepEqual(await queueNames(prefix), [], 'the test leaves no queue behind');
  });

  it('declares a durable work queue with its dead and retry queues, idempotently', async () => {
    const queue = uniqueQueue(prefix);
    const topology = { queue, retryDelaysMs: [250, 1_000] };
    connections.push(await connectForTest(`${prefix}-a`, { topology: [topology] }));
    // Declaring again, as every service does at start and after reconnects, changes nothing.
    await declareTopology(inspector.channel, topology);
    connections.push(await connectForTest(`${prefix}-b`, { topology: [topology] }));

    const work = await getQueue(queue);
    assert.ok(work);
    assert.equal(work.durable, true);
    assert.equal(work.type, 'quorum');
    assert.deepEqual(work.arguments, {
      'x-queue-type': 'quorum',
      'x-delivery-limit': WORK_QUEUE_DELIVERY_LIMIT,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': `${queue}.dead`,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });

    const dead = await getQueue(deadQueueName(queue));
    assert.ok(dead);
    assert.equal(dead.name, `${queue}.dead`);
    assert.equal(dead.durable, true);

    for (const delay of [250, 1_000]) {
      const retry = await getQueue(retryQueueName(queue, delay));
      assert.ok(retry, `retry queue for ${delay} ms`);
      assert.equal(retry.name, `${queue}.retry.${delay}`);
      assert.equal(retry.durable, true);
      assert.deepEqual(retry.arguments, {
        'x-message-ttl': delay,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queue,
      });
    }
  });

  it('lets services with other retry delays declare the same queue without a conflict', async () => {
    const queue = uniqueQueue(prefix);
    await declareTopology(inspector.channel, { queue, retryDelaysMs: [100] });
    await declareTopology(inspector.channel, { queue, retryDelaysMs: [100, 300] });
    assert.ok(await getQueue(retryQueueName(queue, 100)));
    assert.ok(await getQueue(retryQueueName(queue, 300)));
  });

  it('refuses to start when a queue exists with other arguments', async () => {
    const queue = uniqueQueue(prefix);
    await inspector.channel.assertQueue(queue, { durable: true });
    await assert.rejects(
      connectForTest(`${prefix}-conflict`, { topology: [{ queue }] }),
      (error: unknown) =>
        error instanceof TopologyError &&
        !error.retryable &&
        /PRECONDITION_FAILED/.test(error.message),
    );
  });

  it('reports a consumer whose queue conflicts, and the connection recovers its channels', async () => {
    const conflicting = uniqueQueue(prefix);
    await inspector.channel.assertQueue(conflicting, { durable: true });
    const connection = await connectForTest(`${prefix}-consume-conflict`);
    connections.push(connection);
    const schema = z.object({ n: z.number() });
    await assert.rejects(
      connection.consume({ queue: conflicting }, schema, () => undefined),
      (error: unknown) => error instanceof TopologyError && error.queue === conflicting,
    );
    const queue = uniqueQueue(prefix);
    const seen: number[] = [];
    await connection.consume({ queue }, schema, ({ n }) => {
      seen.push(n);
    });
    await connection.publish(queue, { n: 1 });
    await eventually(() => seen.length === 1, 'a message on the other queue');
  });

  it('keeps publishing after a reconnect when a consume was refused earlier', async () => {
    const conflicting = uniqueQueue(prefix);
    await inspector.channel.assertQueue(conflicting, { durable: true });
    const queue = uniqueQueue(prefix);
    const name = `${prefix}-refused-then-reconnected`;
    const connection = await connectForTest(name, { topology: [{ queue }] });
    connections.push(connection);
    await assert.rejects(
      connection.consume({ queue: conflicting }, z.object({}), () => undefined),
      TopologyError,
    );
    assert.equal(await dropConnections(name), 1);
    // The refused queue is not re-declared by the publisher after the reconnect.
    await connection.publish(queue, { n: 1 });
    assert.equal((await inspector.take(queue)).content.toString(), '{"n":1}');
  });

  it('moves an expired retry message back to the work queue', async () => {
    const queue = uniqueQueue(prefix);
    await declareTopology(inspector.channel, { queue, retryDelaysMs: [100] });
    inspector.channel.sendToQueue(retryQueueName(queue, 100), Buffer.from('{}'));
    const message = await inspector.take(queue);
    assert.equal(message.content.toString(), '{}');
  });

  it('dead-letters a message rejected without requeue (safety net)', async () => {
    const queue = uniqueQueue(prefix);
    await declareTopology(inspector.channel, { queue, retryDelaysMs: [100] });
    inspector.channel.sendToQueue(queue, Buffer.from('rejected'));
    const channel = await inspector.openChannel();
    await channel.consume(queue, (message) => {
      if (message) channel.nack(message, false, false);
    });
    const dead = await inspector.take(deadQueueName(queue));
    assert.equal(dead.content.toString(), 'rejected');
    await channel.close();
  });

  it('dead-letters a message whose consumers keep dying instead of redelivering it forever', async () => {
    const queue = uniqueQueue(prefix);
    await declareTopology(inspector.channel, { queue, retryDelaysMs: [100] });
    inspector.channel.sendToQueue(queue, Buffer.from('poison'));
    let deliveries = 0;
    const channel = await inspector.openChannel();
    await channel.consume(queue, (message) => {
      if (message === null) return;
      deliveries += 1;
      // What the broker sees when a worker dies mid-job: the message comes back unacked.
      channel.nack(message, false, true);
    });
    const dead = await inspector.take(deadQueueName(queue));
    assert.equal(dead.content.toString(), 'poison');
    assert.equal(deliveries, WORK_QUEUE_DELIVERY_LIMIT + 1);
    await channel.close();
  });
});
