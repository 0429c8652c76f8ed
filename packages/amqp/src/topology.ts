import type { Channel } from 'amqplib';

/**
 * Every work queue comes with a dead-letter queue and one retry queue per delay:
 *
 *   video              quorum, dead-letters rejected messages to video.dead
 *   video.retry.5000   classic, TTL 5 s, expired messages go back to video
 *   video.retry.30000  ...
 *   video.dead         classic, kept for a human to look at
 *
 * All of them hang off the default exchange, so no exchange or binding is needed.
 * Retry queue names carry their delay: a service configured with other delays
 * declares other queues instead of failing with PRECONDITION_FAILED.
 */
export interface QueueTopology {
  /** The work queue, e.g. `video`. */
  queue: string;
  /** Delay before each retry, in milliseconds; the last one repeats if attempts outnumber them. */
  retryDelaysMs?: readonly number[];
}

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([5_000, 30_000, 120_000]);

/**
 * How often the broker hands out the same message before dead-lettering it. A delivery
 * counts when it ends without an ack because its worker died or lost its channel, or
 * with a requeue (basic.reject; before RabbitMQ 4.3 also basic.nack), so a message that
 * kills its worker cannot crash-loop. Handled failures go through the retry queues as new
 * messages, and messages stopped at shutdown are handed back as copies: neither counts. A
 * constant, not an option: every service must declare the queue with the same arguments.
 */
export const WORK_QUEUE_DELIVERY_LIMIT = 5;

export function deadQueueName(queue: string): string {
  return `${queue}.dead`;
}

export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}`;
}

const MAX_QUEUE_NAME_BYTES = 255;
// RabbitMQ stores the TTL as an unsigned 32-bit integer.
const MAX_TTL_MS = 2 ** 32 - 1;

/** Checks the delays and returns them; throws a RangeError naming the bad value. */
export function validRetryDelays(delays: readonly number[]): readonly number[] {
  if (delays.length === 0) throw new RangeError('at least one retry delay is required');
  for (const delay of delays) {
    if (!Number.isSafeInteger(delay) || delay < 1 || delay > MAX_TTL_MS) {
      throw new RangeError(`retry delay ${delay} ms is not an integer between 1 and ${MAX_TTL_MS}`);
    }
  }
  return delays;
}

/** The delay before the retry that follows failed attempt `attempt` (1-based). */
export function retryDelayFor(delays: readonly number[], attempt: number): number {
  const index = Math.min(Math.max(attempt, 1), delays.length) - 1;
  const delay = delays[index];
  if (delay === undefined) throw new RangeError('at least one retry delay is required');
  return delay;
}

export interface QueueDeclaration {
  name: string;
  options: {
    durable: true;
    arguments: Record<string, string | number>;
  };
}

/** The queues `declareTopology` asserts, in order; pure, so the names and arguments are testable. */
export function topologyDeclarations(topology: QueueTopology): QueueDeclaration[] {
  const { queue } = topology;
  const delays = [...new Set(validRetryDelays(topology.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS))];
  if (queue === '' || queue.startsWith('amq.')) {
    throw new RangeError(`"${queue}" cannot be used as a work queue name`);
  }
  const longest = retryQueueName(queue, Math.max(...delays));
  if (Buffer.byteLength(longest) > MAX_QUEUE_NAME_BYTES) {
    throw new RangeError(`queue name "${longest}" is longer than ${MAX_QUEUE_NAME_BYTES} bytes`);
  }
  return [
    { name: deadQueueName(queue), options: { durable: true, arguments: {} } },
    ...delays.map((delay) => ({
      name: retryQueueName(queue, delay),
      options: {
        durable: true as const,
        arguments: {
          'x-message-ttl': delay,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': queue,
        },
      },
    })),
    {
      name: queue,
      options: {
        durable: true,
        arguments: {
          // Quorum: the broker counts redeliveries, see WORK_QUEUE_DELIVERY_LIMIT.
          'x-queue-type': 'quorum',
          'x-delivery-limit': WORK_QUEUE_DELIVERY_LIMIT,
          // Safety net: anything rejected without requeue, or past the delivery limit, lands
          // in the dead queue. The broker's dead-lettering is at-most-once unless asked for
          // at-least-once, which quorum queues allow only with overflow reject-publish.
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': deadQueueName(queue),
          'x-dead-letter-strategy': 'at-least-once',
          'x-overflow': 'reject-publish',
        },
      },
    },
  ];
}

/**
 * Declares the work queue and its retry and dead queues. Idempotent: every
 * service runs it at start and again after each reconnect.
 */
export async function declareTopology(
  channel: Pick<Channel, 'assertQueue'>,
  topology: QueueTopology,
): Promise<void> {
  for (const { name, options } of topologyDeclarations(topology)) {
    await channel.assertQueue(name, options);
  }
}
