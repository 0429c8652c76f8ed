import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createLogger } from '@mp3converter/logging';
import type { AmqpConnection, Consumer, MessageContext } from '@mp3converter/amqp';
import {
  deleteQueues,
  dropConnections,
  getQueue,
  Inspector,
  queueNames,
  runPrefix,
  startTcpProxy,
  testServers,
} from '@mp3converter/testkit';
import { connectForTest, eventually, uniqueQueue } from './broker.ts';

const prefix = runPrefix('recovery');
const jobSchema = z.object({ job: z.number().int() });

// Each drop waits for the management API to list the connection (its stats tick, up to
// 5 s), so the two tests run side by side.
describe('connection recovery', { concurrency: true }, () => {
  let inspector: Inspector;
  const connections: AmqpConnection[] = [];
  const consumers: Consumer[] = [];

  before(async () => {
    inspector = await Inspector.open();
  });

  after(async () => {
    await Promise.all(consumers.map((consumer) => consumer.cancel({ timeoutMs: 1_000 })));
    await Promise.all(connections.map((connection) => connection.close()));
    await inspector.close();
    await deleteQueues(prefix);
    assert.deepEqual(await queueNames(prefix), [], 'the test leaves no queue behind');
  });

  it('resumes consuming and delivers a message published after the broker dropped the connection', async () => {
    const name = `${prefix}-resume`;
    const queue = uniqueQueue(prefix);
    const connection = await connectForTest(name, { topology: [{ queue, retryDelaysMs: [100] }] });
    connections.push(connection);
    const jobs: number[] = [];
    consumers.push(
      await connection.consume({ queue, retryDelaysMs: [100] }, jobSchema, ({ job }) => {
        jobs.push(job);
      }),
    );
    await connection.publish(queue, { job: 1 });
    await eventually(() => jobs.length === 1, 'job 1 before the cut');

    assert.equal(await dropConnections(name), 1);
    await connection.publish(queue, { job: 2 });
    await eventually(() => jobs.length === 2, 'job 2 after recovery');
    assert.deepEqual(jobs, [1, 2]);
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack');
  });

  it('rides out a broker that is unreachable for a while, like a restart', async () => {
    // A proxy in front of the broker: cut() drops the connection and refuses
    // reconnects until restore(), as a restarting broker does.
    const broker = new URL(testServers.amqpUrl);
    const proxy = await startTcpProxy(Number(broker.port || 5672), broker.hostname);
    const viaProxy = new URL(broker);
    viaProxy.port = String(proxy.port);
    const queue = uniqueQueue(prefix);
    const logged: string[] = [];
    const connection = await connectForTest(`${prefix}-outage`, {
      url: viaProxy.toString(),
      topology: [{ queue, retryDelaysMs: [100] }],
      logger: createLogger(
        { service: 'amqp-test', level: 'warn' },
        {
          write: (line: string) => logged.push(line),
        },
      ),
    });
    const refusals = (): number =>
      logged.filter((line) => line.includes('amqp connection attempt failed')).length;
    connections.push(connection);
    try {
      const jobs: number[] = [];
      consumers.push(
        await connection.consume({ queue, retryDelaysMs: [100] }, jobSchema, ({ job }) => {
          jobs.push(job);
        }),
      );
      await connection.publish(queue, { job: 1 });
      await eventually(() => jobs.length === 1, 'job 1 before the outage');

      await proxy.cut();
      await eventually(() => !connection.isConnected(), 'the connection to drop');
      // Published by another client while this one cannot reach the broker.
      inspector.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ job: 2 })), {
        persistent: true,
        contentType: 'application/json',
      });
      const before = refusals();
      await eventually(() => refusals() >= before + 2, 'two refused reconnect attempts');
      assert.equal(connection.isConnected(), false);

      await proxy.restore();
      await eventually(() => connection.isConnected(), 'the reconnect', 10_000);
      await connection.publish(queue, { job: 3 });
      // At least once: job 1 comes again if its ack was lost in the cut.
      await eventually(
        () => jobs.includes(2) && jobs.includes(3),
        'jobs 2 and 3 after the outage',
        10_000,
      );
      assert.deepEqual([...new Set(jobs)].sort(), [1, 2, 3], `handled ${JSON.stringify(jobs)}`);
    } finally {
      await proxy.close();
    }
  });

  it('aborts the handler whose channel died and handles the redelivered message again', async () => {
    const name = `${prefix}-inflight`;
    const queue = uniqueQueue(prefix);
    const connection = await connectForTest(name);
    connections.push(connection);
    const calls: { redelivered: boolean; attempt: number; abortCode?: string }[] = [];
    const handler = (_job: unknown, context: MessageContext): Promise<void> => {
      const call: (typeof calls)[number] = {
        redelivered: context.redelivered,
        attempt: context.attempt,
      };
      calls.push(call);
      if (context.redelivered) return Promise.resolve();
      // The first delivery hangs until its channel goes away.
      return new Promise((resolve) => {
        context.signal.addEventListener('abort', () => {
          call.abortCode = (context.signal.reason as { code?: string }).code;
          resolve();
        });
      });
    };
    consumers.push(await connection.consume({ queue }, jobSchema, handler));
    await connection.publish(queue, { job: 4 });
    await eventually(() => calls.length === 1, 'the first delivery');

    await dropConnections(name);
    await eventually(() => calls.length === 2, 'the redelivery after recovery');
    assert.deepEqual(calls, [
      { redelivered: false, attempt: 1, abortCode: 'AMQP_CHANNEL_CLOSED' },
      { redelivered: true, attempt: 1 },
    ]);
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack');
  });
  it('reopens a channel the broker closed alone; other consumers and the publisher carry on', async () => {
    const connection = await connectForTest(`${prefix}-alone`);
    connections.push(connection);
    const lost = uniqueQueue(prefix);
    const busy = uniqueQueue(prefix);
    const lostJobs: number[] = [];
    consumers.push(
      await connection.consume({ queue: lost }, jobSchema, ({ job }) => {
        lostJobs.push(job);
      }),
    );
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const busyCalls: { job: number; signal: AbortSignal }[] = [];
    consumers.push(
      await connection.consume({ queue: busy }, jobSchema, async ({ job }, context) => {
        busyCalls.push({ job, signal: context.signal });
        await released;
      }),
    );
    await connection.publish(busy, { job: 1 });
    await eventually(() => busyCalls.length === 1, 'the busy handler to start');

    // Deleting the queue cancels its consumer; re-subscribing to a missing queue makes the
    // broker close that consumer's channel (404), and only that one.
    await inspector.channel.deleteQueue(lost);
    await connection.publish(busy, { job: 2 }); // the publisher is unaffected
    await eventually(
      async () => (await getQueue(lost)) !== undefined,
      'the reopened channel to declare the queue again',
    );
    await connection.publish(lost, { job: 3 });
    await eventually(() => lostJobs.includes(3), 'the reopened consumer to take job 3');

    assert.equal(busyCalls[0]!.signal.aborted, false, 'the other consumer was not disturbed');
    release();
    await eventually(() => busyCalls.length === 2, 'job 2 after job 1');
    await eventually(async () => (await inspector.count(busy)) === 0, 'both acks');
    assert.deepEqual(
      busyCalls.map((call) => call.job),
      [1, 2],
      'job 1 was handled once: its channel never closed',
    );
  });
});
