import { AmqpConnectionManagerClass, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { ManagedChannel } from './channel.ts';
import { HEADERS, resolveCorrelationId, type Headers } from './headers.ts';
import {
  QueueConsumer,
  type ConsumeOptions,
  type Consumer,
  type MessageHandler,
} from './consumer.ts';
import {
  DEFAULT_RETRY_DELAYS_MS,
  declareTopology,
  topologyDeclarations,
  type QueueTopology,
} from './topology.ts';

export interface ConnectOptions {
  /** amqp:// or amqps:// URL with credentials and vhost. */
  url: string;
  logger: Logger;
  /** Shown by the broker as the connection's name (client property `connection_name`). */
  connectionName: string;
  /** Heartbeat interval asked of the broker: a dead peer is noticed after about twice this. Default 10. */
  heartbeatSeconds?: number;
  /** Wait between reconnect attempts, and before reopening a channel the broker closed. Default 2. */
  reconnectDelaySeconds?: number;
  /** How long `connectAmqp` and `consume` wait for the broker at start. Default 10 s. */
  connectTimeoutMs?: number;
  /** How long a publish (or a consumer's retry/dead-letter copy) waits for the broker's confirm. Default 10 s. */
  publishTimeoutMs?: number;
  /**
   * Work queues to declare (with their retry and dead queues) now and after every reconnect.
   * The one place a queue's retry delays are named: `consume()` takes the same objects.
   */
  topology?: readonly QueueTopology[];
}

export interface PublishOptions {
  /** Defaults to the correlation id of the work in hand (currentCorrelationId()), else a new one. */
  correlationId?: string;
  headers?: Headers;
  /** Defaults to a new uuid; pass a deterministic id (e.g. the job id) to make duplicates recognisable. */
  messageId?: string;
  /** Overrides the connection's publish timeout. */
  timeoutMs?: number;
}

export interface PublishResult {
  messageId: string;
  correlationId: string;
}

/** The broker address without credentials, for logs. */
export function describeBroker(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(unparsable url)';
  }
}

/**
 * One connection to RabbitMQ, kept alive by amqp-connection-manager: it reconnects after
 * a broker restart or a network cut, re-declares the topology and re-subscribes consumers.
 * Publishing uses one confirm channel; every consumer gets its own, so a channel the broker
 * closes takes down only its own work (see ManagedChannel).
 */
export class AmqpConnection {
  readonly #manager: AmqpConnectionManager;
  readonly #logger: Logger;
  readonly #log: Logger;
  readonly #connectTimeoutMs: number;
  readonly #publishTimeoutMs: number;
  readonly #reopenDelayMs: number;
  readonly #topology = new Map<string, QueueTopology>();
  readonly #consumers = new Set<Consumer>();
  readonly #channel: ManagedChannel;
  #closed = false;

  constructor(options: ConnectOptions) {
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
    const reconnectDelaySeconds = options.reconnectDelaySeconds ?? 2;
    this.#reopenDelayMs = reconnectDelaySeconds * 1000;
    const declared = options.topology ?? [];
    for (const topology of declared) this.#register(this.#check(topology));
    this.#logger = options.logger;
    this.#log = options.logger.child({ module: 'amqp', broker: describeBroker(options.url) });
    this.#manager = new AmqpConnectionManagerClass(options.url, {
      heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 10,
      reconnectTimeInSeconds: reconnectDelaySeconds,
      connectionOptions: {
        timeout: this.#connectTimeoutMs,
        clientProperties: { connection_name: options.connectionName },
      },
    });
    const events: [string, 'info' | 'warn', string][] = [
      ['connect', 'info', 'amqp connected'],
      ['disconnect', 'warn', 'amqp disconnected, reconnecting'],
      ['connectFailed', 'warn', 'amqp connection attempt failed'],
      ['blocked', 'warn', 'amqp connection blocked by the broker'],
      ['unblocked', 'info', 'amqp connection unblocked'],
    ];
    for (const [event, level, text] of events) {
      this.#manager.on(event, (details?: { err?: Error; reason?: string }) => {
        if (!this.#closed) this.#log[level]({ err: details?.err, reason: details?.reason }, text);
      });
    }
    this.#channel = new ManagedChannel(
      this.#manager,
      {
        setup: async (raw) => {
          // Only what this connection publishes to; each consumer declares its own queue.
          for (const topology of declared) await declareTopology(raw, topology);
        },
      },
      {
        name: 'publisher',
        publishTimeoutMs: this.#publishTimeoutMs,
        reopenDelayMs: this.#reopenDelayMs,
        log: this.#log,
      },
    );
  }

  /** Connects, declares the topology and opens the publisher channel; throws if the broker is not there. */
  async start(): Promise<void> {
    try {
      await this.#manager.connect({ timeout: this.#connectTimeoutMs }).catch((error: unknown) => {
        throw new DependencyUnavailableError('rabbitmq', { cause: error });
      });
      await this.#channel.ready(this.#connectTimeoutMs);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  isConnected(): boolean {
    return this.#manager.isConnected();
  }

  /** Publishes `message` as JSON to `queue`; resolves once the broker has confirmed it. */
  async publish(
    queue: string,
    message: unknown,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const correlationId = resolveCorrelationId(options.correlationId);
    const messageId = options.messageId ?? randomUUID();
    const json = JSON.stringify(message) as string | undefined;
    if (json === undefined) throw new TypeError('the message cannot be encoded as JSON');
    const properties = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      messageId,
      timestamp: Math.floor(Date.now() / 1000),
      correlationId,
      headers: { ...options.headers, [HEADERS.correlationId]: correlationId },
    };
    await this.#channel.send(queue, Buffer.from(json), properties, options.timeoutMs);
    return { messageId, correlationId };
  }

  /**
   * Declares `topology` (on the consumer's own channel) and consumes its queue: every
   * message is parsed as JSON, checked against `schema` and given to `handler`, which only
   * returns or throws. The consumer acks, retries or dead-letters.
   */
  async consume<T>(
    topology: QueueTopology,
    schema: z.ZodType<T>,
    handler: MessageHandler<T>,
    options: ConsumeOptions = {},
  ): Promise<Consumer> {
    if (this.#closed) throw new Error('the connection is closed');
    const consumer = new QueueConsumer(this.#check(topology), schema, handler, options, {
      manager: this.#manager,
      send: (queue, content, properties) => this.#channel.send(queue, content, properties),
      publishTimeoutMs: this.#publishTimeoutMs,
      reopenDelayMs: this.#reopenDelayMs,
      logger: this.#logger,
      onStopped: (stopped) => this.#consumers.delete(stopped),
    });
    this.#consumers.add(consumer);
    try {
      await consumer.start(this.#connectTimeoutMs);
      this.#register(topology);
    } catch (error) {
      this.#consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  /**
   * Stops consumers without waiting (call `cancel()` on them first for a graceful stop),
   * then closes the channels and the connection. Unacked messages return to their queues.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((consumer) => consumer.cancel({ timeoutMs: 0 })));
    await this.#channel.close();
    await this.#manager.close();
    this.#log.info('amqp connection closed');
  }

  /** Checks `topology`; the same queue with other retry delays on one connection is a mistake. */
  #check(topology: QueueTopology): QueueTopology {
    topologyDeclarations(topology);
    const known = this.#topology.get(topology.queue);
    const delays = (t: QueueTopology): string => String(t.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS);
    if (known !== undefined && delays(known) !== delays(topology)) {
      throw new RangeError(
        `queue ${topology.queue} is already declared with other retry delays on this connection`,
      );
    }
    return topology;
  }

  #register(topology: QueueTopology): void {
    this.#topology.set(topology.queue, topology);
  }
}

/**
 * Connects to RabbitMQ and declares the topology. Throws DependencyUnavailableError if the
 * broker cannot be reached within `connectTimeoutMs`, TopologyError if it refuses a queue
 * declaration (e.g. a queue that exists with other arguments).
 */
export async function connectAmqp(options: ConnectOptions): Promise<AmqpConnection> {
  const connection = new AmqpConnection(options);
  await connection.start();
  return connection;
}
