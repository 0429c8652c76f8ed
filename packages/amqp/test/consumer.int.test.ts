import assert from 'node:assert/strict';
import { setImmediate } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { PermanentError, TransientError } from '@mp3converter/errors';
import { createLogger, currentCorrelationId, withCorrelationId } from '@mp3converter/logging';
import {
  videoMessageSchema,
  type VideoMessage,
  type VideoMessageInput,
} from '@mp3converter/contracts';
import {
  HEADERS,
  deadQueueName,
  retryQueueName,
  type AmqpConnection,
  type Consumer,
  type MessageContext,
  HandlerAbortedError,
  WORK_QUEUE_DELIVERY_LIMIT,
} from '@mp3converter/amqp';
import {
  Inspector,
  deleteQueues,
  getQueue,
  headersOf,
  queueNames,
  runPrefix,
} from '@mp3converter/testkit';
import { connectForTest, eventually, gate, uniqueQueue } from './broker.ts';

const prefix = runPrefix('consumer');
const jobSchema = z.object({ job: z.number().int() });
const RETRY_DELAYS_MS = [100, 200];
type Job = z.output<typeof jobSchema>;

interface Seen {
  job: Job;
  context: MessageContext;
  loggedCorrelationId: string | undefined;
}

describe('consume', () => {
  let connection: AmqpConnection;
  let inspector: Inspector;
  const consumers: Consumer[] = [];

  before(async () => {
    connection = await connectForTest(`${prefix}-main`);
    inspector = await Inspector.open();
  });

  after(async () => {
    await Promise.all(consumers.map((consumer) => consumer.cancel({ timeoutMs: 1_000 })));
    await connection.close();
    await inspector.close();
    await deleteQueues(prefix);
    assert.deepEqual(await queueNames(prefix), [], 'the test leaves no queue behind');
  });

  async function retryDepths(queue: string): Promise<number[]> {
    return Promise.all(
      RETRY_DELAYS_MS.map((delay) => inspector.count(retryQueueName(queue, delay))),
    );
  }

  /** Consumes a new queue with `handler`, recording what each call saw. */
  async function consumeNew(
    handler: (job: Job, context: MessageContext) => Promise<void> | void,
    options: Parameters<AmqpConnection['consume']>[3] = {},
    on: AmqpConnection = connection,
    queue = uniqueQueue(prefix),
  ): Promise<{ queue: string; seen: Seen[]; consumer: Consumer }> {
    const seen: Seen[] = [];
    const consumer = await on.consume(
      { queue, retryDelaysMs: RETRY_DELAYS_MS },
      jobSchema,
      async (job, context) => {
        seen.push({ job, context, loggedCorrelationId: currentCorrelationId() });
        await handler(job, context);
      },
      options,
    );
    consumers.push(consumer);
    return { queue, seen, consumer };
  }

  it('delivers a confirmed message with its correlation id, message id and attempt', async () => {
    const { queue, seen } = await consumeNew(() => undefined);
    const published = await withCorrelationId('req-1234', () =>
      connection.publish(queue, { job: 1 }),
    );
    assert.equal(published.correlationId, 'req-1234');
    await eventually(() => seen.length === 1, 'the handler to run');
    const [first] = seen;
    assert.deepEqual(first!.job, { job: 1 });
    assert.equal(first!.context.correlationId, 'req-1234');
    assert.equal(
      first!.loggedCorrelationId,
      'req-1234',
      'the handler runs with the correlation id',
    );
    assert.equal(first!.context.messageId, published.messageId);
    assert.equal(first!.context.attempt, 1);
    assert.equal(first!.context.redelivered, false);
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack');
  });

  it('hands the handler a contract message with its defaults applied', async () => {
    const queue = uniqueQueue(prefix);
    const received: VideoMessage[] = [];
    consumers.push(
      await connection.consume({ queue }, videoMessageSchema, (message) => {
        received.push(message);
      }),
    );
    const input: VideoMessageInput = {
      schema_version: 1,
      job_id: '0b7c0d5e-3a55-4a43-9d1b-2c2d6f1b9a10',
      owner_id: '17',
      username: 'alice@example.com',
      video_fid: '65f1c0ffee0123456789abcd',
      mp3_fid: null,
      filename: 'clip.mp4',
      created_at: '2024-03-13T10:15:00.000Z',
    };
    await connection.publish(queue, input);
    await eventually(() => received.length === 1, 'the handler to run');
    assert.deepEqual(received[0], { ...input, options: { bitrate_kbps: 192 } });
  });

  it('gives a message without a correlation id a new one', async () => {
    const { queue, seen } = await consumeNew(() => undefined);
    inspector.channel.sendToQueue(queue, Buffer.from('{"job":2}'));
    await eventually(() => seen.length === 1, 'the handler to run');
    assert.match(seen[0]!.context.correlationId, /^[0-9a-f-]{36}$/);
    assert.equal(seen[0]!.loggedCorrelationId, seen[0]!.context.correlationId);
  });

  it('dead-letters a non-JSON and a schema-invalid message, then keeps consuming', async () => {
    const { queue, seen } = await consumeNew(() => undefined);
    inspector.channel.sendToQueue(queue, Buffer.from('this is not json {'), {
      correlationId: 'bad-json-1',
    });
    await connection.publish(queue, { job: 'three' }, { correlationId: 'bad-schema-1' });

    // Two publishers (the inspector and the connection): their order in the queue may vary.
    const dead = [
      await inspector.take(deadQueueName(queue)),
      await inspector.take(deadQueueName(queue)),
    ];
    const notJson = dead.find((message) => message.properties.correlationId === 'bad-json-1');
    const badSchema = dead.find((message) => message.properties.correlationId === 'bad-schema-1');
    assert.ok(notJson && badSchema);
    assert.equal(notJson.content.toString(), 'this is not json {', 'the body is kept as it was');
    assert.equal(notJson.properties.correlationId, 'bad-json-1');
    assert.equal(headersOf(notJson)[HEADERS.deathReason], 'invalid-json');
    assert.equal(headersOf(notJson)[HEADERS.errorCode], 'MESSAGE_NOT_JSON');
    assert.equal(headersOf(notJson)[HEADERS.originalQueue], queue);
    assert.equal(typeof headersOf(notJson)[HEADERS.errorMessage], 'string');

    assert.deepEqual(JSON.parse(badSchema.content.toString()), { job: 'three' });
    assert.equal(badSchema.properties.correlationId, 'bad-schema-1');
    assert.equal(headersOf(badSchema)[HEADERS.deathReason], 'schema-invalid');
    assert.equal(headersOf(badSchema)[HEADERS.errorCode], 'MESSAGE_SCHEMA_INVALID');
    assert.match(String(headersOf(badSchema)[HEADERS.errorMessage]), /^job: /);
    assert.equal(badSchema.properties.deliveryMode, 2, 'dead letters stay persistent');
    assert.equal(seen.length, 0, 'the handler never sees an invalid message');

    await connection.publish(queue, { job: 3 });
    await eventually(() => seen.length === 1, 'the next valid message to be handled');
    assert.deepEqual(seen[0]!.job, { job: 3 });
    await eventually(async () => (await inspector.count(queue)) === 0, 'the work queue to drain');
  });

  it('retries a retryable failure through the retry queue and succeeds on attempt 3', async () => {
    const { queue, seen } = await consumeNew((_job, context) => {
      if (context.attempt < 3) throw new TransientError('STORAGE_DOWN', 'storage is restarting');
    });
    const started = Date.now();
    const { messageId } = await connection.publish(queue, { job: 4 }, { correlationId: 'retry-1' });
    await eventually(() => seen.length === 3, 'the third attempt');
    const elapsed = Date.now() - started;
    assert.deepEqual(
      seen.map((call) => call.context.attempt),
      [1, 2, 3],
    );
    assert.ok(elapsed >= 300, `waited the retry delays (100 + 200 ms), took ${elapsed} ms`);
    for (const call of seen) {
      assert.equal(call.context.correlationId, 'retry-1', 'every attempt keeps the correlation id');
      assert.equal(call.context.messageId, messageId);
      assert.deepEqual(call.job, { job: 4 });
    }
    assert.equal(seen[1]!.context.headers[HEADERS.errorCode], 'STORAGE_DOWN');
    // Once the success is acked no copy is left anywhere, so no fourth attempt can come.
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack');
    assert.deepEqual(await retryDepths(queue), [0, 0], 'nothing waits in the retry queues');
    assert.equal(await inspector.count(deadQueueName(queue)), 0);
  });

  it('dead-letters a permanent failure at once', async () => {
    const { queue, seen } = await consumeNew(() => {
      throw new PermanentError('NO_AUDIO_TRACK', 'the video has no audio track');
    });
    await connection.publish(queue, { job: 5 }, { correlationId: 'permanent-1' });
    const dead = await inspector.take(deadQueueName(queue));
    assert.equal(seen.length, 1);
    assert.deepEqual(JSON.parse(dead.content.toString()), { job: 5 });
    assert.equal(dead.properties.correlationId, 'permanent-1');
    assert.equal(headersOf(dead)[HEADERS.deathReason], 'permanent-error');
    assert.equal(headersOf(dead)[HEADERS.errorCode], 'NO_AUDIO_TRACK');
    assert.equal(headersOf(dead)[HEADERS.errorMessage], 'the video has no audio track');
    assert.equal(headersOf(dead)[HEADERS.attempt], 1);
  });

  it('dead-letters a message once maxAttempts retryable failures are used up', async () => {
    const { queue, seen } = await consumeNew(
      () => {
        throw new Error('ffmpeg crashed');
      },
      { maxAttempts: 2 },
    );
    await connection.publish(queue, { job: 6 });
    const dead = await inspector.take(deadQueueName(queue));
    assert.deepEqual(
      seen.map((call) => call.context.attempt),
      [1, 2],
    );
    assert.equal(headersOf(dead)[HEADERS.deathReason], 'retries-exhausted');
    assert.equal(headersOf(dead)[HEADERS.errorCode], 'UNEXPECTED_ERROR');
    assert.equal(headersOf(dead)[HEADERS.errorMessage], 'ffmpeg crashed');
    assert.equal(headersOf(dead)[HEADERS.attempt], 2);
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack');
    assert.deepEqual(await retryDepths(queue), [0, 0], 'no retry scheduled after dead-lettering');
    assert.equal(seen.length, 2);
  });

  it('with prefetch 1, a second consumer takes the next messages while the first is busy', async () => {
    const queue = uniqueQueue(prefix);
    const replica = await connectForTest(`${prefix}-replica`);
    try {
      const release = gate();
      const busy = await consumeNew(() => release.promise, {}, connection, queue);
      await connection.publish(queue, { job: 7 });
      await eventually(() => busy.seen.length === 1, 'the first consumer to be busy');

      const idle = await consumeNew(() => undefined, {}, replica, queue);
      await connection.publish(queue, { job: 8 });
      await connection.publish(queue, { job: 9 });
      await eventually(() => idle.seen.length === 2, 'the second consumer to take jobs 8 and 9');
      assert.deepEqual(
        idle.seen.map((call) => call.job.job),
        [8, 9],
      );
      // Without the prefetch limit the broker would have pushed job 9 to the busy consumer.
      assert.equal(busy.seen.length, 1, 'the busy consumer was not given another message');

      release.open();
      await eventually(async () => (await inspector.count(queue)) === 0, 'every ack');
      await idle.consumer.cancel();
    } finally {
      await replica.close();
    }
  });

  it('cancel() stops new deliveries and waits for the handler in progress', async () => {
    const logged: string[] = [];
    const logging = await connectForTest(`${prefix}-cancel`, {
      logger: createLogger(
        { service: 'amqp-test', level: 'info' },
        {
          write: (line: string) => logged.push(line),
        },
      ),
    });
    try {
      const release = gate();
      let finished = false;
      // Room for two: without the cancel, job 13 would be delivered while job 12 runs.
      const { queue, seen, consumer } = await consumeNew(
        async () => {
          await release.promise;
          await setImmediate(); // the handler's tail runs after the release
          finished = true;
        },
        { concurrency: 2 },
        logging,
      );
      await connection.publish(queue, { job: 12 });
      await eventually(() => seen.length === 1, 'the handler to start');
      const cancelled = consumer.cancel({ timeoutMs: 5_000 });
      await eventually(
        () => logged.some((line) => line.includes('consumer cancelled, draining')),
        'basic.cancel to be confirmed by the broker',
      );
      await connection.publish(queue, { job: 13 });
      release.open();
      const result = await cancelled;
      assert.equal(finished, true, 'cancel() resolved only after the handler finished');
      assert.deepEqual(result, { drained: true, abandoned: 0 });
      assert.equal(seen.length, 1, 'no message was taken after cancel()');
      const left = await inspector.take(queue);
      assert.deepEqual(JSON.parse(left.content.toString()), { job: 13 });
      assert.equal(
        left.fields.redelivered,
        false,
        'job 13 was never delivered to the cancelled consumer',
      );
    } finally {
      await logging.close();
    }
  });

  it('cancel() gives up on a handler after its time limit: aborts it and hands the message back', async () => {
    let aborted: unknown;
    const { queue, seen, consumer } = await consumeNew(
      (_job, context) =>
        new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => {
            aborted = context.signal.reason;
            resolve();
          });
        }),
    );
    await connection.publish(queue, { job: 14 }, { correlationId: 'job-14' });
    await eventually(() => seen.length === 1, 'the handler to start');
    const result = await consumer.cancel({ timeoutMs: 100 });
    assert.deepEqual(result, { drained: false, abandoned: 1 });
    assert.ok(aborted instanceof Error);
    assert.equal((aborted as { code?: string }).code, 'AMQP_CONSUMER_STOPPED');
    const handedBack = await inspector.take(queue);
    assert.deepEqual(JSON.parse(handedBack.content.toString()), { job: 14 });
    // The same message for the next consumer: its id, correlation id and attempt.
    assert.equal(handedBack.properties.messageId, seen[0]!.context.messageId);
    assert.equal(handedBack.properties.correlationId, 'job-14');
    assert.equal(headersOf(handedBack)[HEADERS.attempt] ?? 1, 1, 'not counted as a failed attempt');
    assert.equal(handedBack.fields.redelivered, false, 'a copy, not a requeue the broker counts');
    assert.equal(headersOf(handedBack)[HEADERS.handedBack], true, 'marked as worked on before');
    assert.equal(await inspector.count(queue), 0, 'handed back once');
    assert.equal(await inspector.count(deadQueueName(queue)), 0);
  });

  it('hands a stopped message back without spending the delivery limit, however often', async () => {
    const queue = uniqueQueue(prefix);
    const stops = WORK_QUEUE_DELIVERY_LIMIT + 2;
    for (let stop = 1; stop <= stops; stop += 1) {
      const { seen, consumer } = await consumeNew(
        (_job, context) =>
          new Promise<void>((resolve) => {
            context.signal.addEventListener('abort', () => {
              resolve();
            });
          }),
        {},
        connection,
        queue,
      );
      if (stop === 1) await connection.publish(queue, { job: 16 });
      await eventually(() => seen.length === 1, `delivery ${stop}`);
      assert.equal(seen[0]!.context.attempt, 1);
      // From the second delivery on, the handler is told earlier work may be half done.
      assert.equal(seen[0]!.context.redelivered, stop > 1);
      assert.deepEqual(await consumer.cancel({ timeoutMs: 50 }), { drained: false, abandoned: 1 });
    }
    assert.equal(await inspector.count(queue), 1, `still queued after ${stops} stops`);
    assert.equal(await inspector.count(deadQueueName(queue)), 0, 'never dead-lettered');
  });
  it('aborts a handler that runs past handlerTimeoutMs and retries the message', async () => {
    const reasons: unknown[] = [];
    const { queue, seen } = await consumeNew(
      (_job, context) => {
        if (context.attempt > 1) return Promise.resolve();
        // The first attempt hangs until its signal fires, then never settles at all.
        context.signal.addEventListener('abort', () => reasons.push(context.signal.reason));
        return new Promise<void>(() => undefined);
      },
      { handlerTimeoutMs: 200 },
    );
    await connection.publish(queue, { job: 15 });
    await eventually(() => seen.length === 2, 'the retry after the timeout');
    assert.equal(reasons.length, 1);
    assert.ok(
      reasons[0] instanceof HandlerAbortedError && reasons[0].code === 'AMQP_HANDLER_TIMEOUT',
    );
    assert.equal(seen[1]!.context.attempt, 2);
    assert.equal(seen[1]!.context.headers[HEADERS.errorCode], 'AMQP_HANDLER_TIMEOUT');
    await eventually(async () => (await inspector.count(queue)) === 0, 'the ack of attempt 2');
    assert.equal(await inspector.count(deadQueueName(queue)), 0);
  });

  it('refuses to consume a queue with other retry delays than the connection declared', async () => {
    const queue = uniqueQueue(prefix);
    const declared = await connectForTest(`${prefix}-declared`, {
      topology: [{ queue, retryDelaysMs: [100] }],
    });
    try {
      await assert.rejects(
        declared.consume({ queue, retryDelaysMs: [100, 200] }, jobSchema, () => undefined),
        RangeError,
      );
      assert.equal(await getQueue(retryQueueName(queue, 200)), undefined, 'no second set');
    } finally {
      await declared.close();
    }
  });
});
