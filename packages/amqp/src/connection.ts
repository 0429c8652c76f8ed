import type { ConfirmChannel } from 'amqplib';
import {
  AmqpConnectionManagerClass,
  type AmqpConnectionManager,
  type ChannelWrapper,
} from 'amqp-connection-manager';
import type { z } from 'zod';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { errorText, watchChannel, type ChannelWatch } from './confirm-channel.ts';
import { TopologyError } from './errors.ts';
import { isBrokerRefusal, observeFirstRun, withTimeout, type ChannelSetup } from './setup.ts';
import {
  QueueConsumer,
  type ConsumeOptions,
  type Consumer,
  type MessageHandler,
} from './consumer.ts';
import { Publisher, type PublishOptions, type PublishResult } from './publisher.ts';
import { declareTopology, topologyDeclarations, type QueueTopology } from './topology.ts';

export interface ConnectOptions {
  /** amqp:// or amqps:// URL with credentials and vhost. */
  url: string;
  logger: Logger;
  /** Shown by the broker as the connection's name (client property `connection_name`). */
  connectionName: string;
  /** Heartbeat interval asked of the broker: a dead peer is noticed after about twice this. Default 10. */
  heartbeatSeconds?: number;
  /** Wait between reconnect attempts. Default 2. */
  reconnectDelaySeconds?: number;
  /** How long `connectAmqp` and `consume` wait for the broker at start. Default 10 s. */
  connectTimeoutMs?: number;
  /** How long a publish (or a consumer's retry/dead-letter copy) waits for the broker's confirm. Default 10 s. */
  publishTimeoutMs?: number;
  /** Work queues (with their retry and dead queues) to declare now and after every reconnect. */
  topology?: readonly QueueTopology[];
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
 * One connection to RabbitMQ, kept alive by amqp-connection-manager: it
 * reconnects after a broker restart or a network cut, re-declares the topology
 * and re-subscribes consumers on every new channel. Publishing uses one confirm
 * channel; every consumer gets its own channel, so its prefetch and its
 * failures stay its own.
 */
export class AmqpConnection {
  readonly #manager: AmqpConnectionManager;
  readonly #logger: Logger;
  readonly #log: Logger;
  readonly #options: Required<Omit<ConnectOptions, 'topology' | 'logger'>>;
  readonly #topology: readonly QueueTopology[];
  readonly #consumers = new Set<Consumer>();
  readonly #channelWatch: ChannelWatch;
  #publisherChannel: ChannelWrapper | undefined;
  /** The raw channel under the publisher wrapper now; replaced on every reconnect. */
  #publisherRaw: ConfirmChannel | undefined;
  #publisher: Publisher | undefined;
  #closed = false;
  #reconnectPending = false;

  constructor(options: ConnectOptions) {
    this.#options = {
      url: options.url,
      connectionName: options.connectionName,
      heartbeatSeconds: options.heartbeatSeconds ?? 10,
      reconnectDelaySeconds: options.reconnectDelaySeconds ?? 2,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
    };
    this.#topology = options.topology ?? [];
    // Fail on a bad name or delay now, not inside a reconnect.
    for (const topology of this.#topology) topologyDeclarations(topology);
    const broker = describeBroker(options.url);
    this.#logger = options.logger;
    this.#log = options.logger.child({ module: 'amqp', broker });
    this.#channelWatch = {
      onError: (error) => {
        this.#onChannelError(error);
      },
    };
    this.#manager = new AmqpConnectionManagerClass(options.url, {
      heartbeatIntervalInSeconds: this.#options.heartbeatSeconds,
      reconnectTimeInSeconds: this.#options.reconnectDelaySeconds,
      connectionOptions: {
        timeout: this.#options.connectTimeoutMs,
        clientProperties: { connection_name: options.connectionName },
      },
    });
    this.#manager.on('connect', () => {
      this.#log.info({ connectionName: options.connectionName }, 'amqp connected');
    });
    this.#manager.on('disconnect', ({ err }: { err?: Error }) => {
      if (!this.#closed) this.#log.warn({ err }, 'amqp disconnected, reconnecting');
    });
    this.#manager.on('connectFailed', ({ err }: { err: Error }) => {
      if (!this.#closed) this.#log.warn({ err }, 'amqp connection attempt failed');
    });
    this.#manager.on('blocked', ({ reason }: { reason: string }) => {
      this.#log.warn({ reason }, 'amqp connection blocked by the broker');
    });
    this.#manager.on('unblocked', () => {
      this.#log.info('amqp connection unblocked');
    });
  }

  /** Connects, declares the topology and opens the publisher channel; throws if the broker is not there. */
  async start(): Promise<void> {
    // Runs on the first channel and again on every new channel after a reconnect.
    const { setup, firstOutcome } = observeFirstRun(async (raw) => {
      watchChannel(raw, this.#channelWatch);
      this.#publisherRaw = raw;
      for (const topology of this.#topology) await declareTopology(raw, topology);
    });
    const channel = this.#createChannel('publisher', setup);
    this.#publisherChannel = channel;
    this.#publisher = new Publisher(
      channel,
      { closed: () => this.#closed, channel: () => this.#publisherRaw },
      this.#options.publishTimeoutMs,
    );
    try {
      await this.#manager.connect({ timeout: this.#options.connectTimeoutMs });
      await withTimeout(
        firstOutcome,
        this.#options.connectTimeoutMs,
        'the publisher channel was not ready',
      );
    } catch (error) {
      await this.close();
      if (!isBrokerRefusal(error)) {
        throw new DependencyUnavailableError('rabbitmq', { cause: error });
      }
      throw new TopologyError(`declaring the topology failed: ${errorText(error)}`, undefined, {
        cause: error,
      });
    }
  }

  isConnected(): boolean {
    return this.#manager.isConnected();
  }

  /** Publishes `message` as JSON to `queue`; resolves once the broker has confirmed it. */
  publish(queue: string, message: unknown, options?: PublishOptions): Promise<PublishResult> {
    if (this.#publisher === undefined) {
      return Promise.reject(new Error('the connection was not started'));
    }
    return this.#publisher.publish(queue, message, options);
  }

  /**
   * Declares `queue`'s topology and consumes it: every message is parsed as JSON,
   * checked against `schema` and given to `handler`, which only returns or throws.
   * The consumer acks, retries or dead-letters.
   */
  async consume<T>(
    queue: string,
    schema: z.ZodType<T>,
    handler: MessageHandler<T>,
    options: ConsumeOptions = {},
  ): Promise<Consumer> {
    if (this.#closed) throw new Error('the connection is closed');
    const consumer = new QueueConsumer(queue, schema, handler, options, {
      createChannel: (name, setup) => this.#createChannel(name, setup),
      channelWatch: this.#channelWatch,
      publishTimeoutMs: this.#options.publishTimeoutMs,
      logger: this.#logger,
      onStopped: (stopped) => this.#consumers.delete(stopped),
    });
    this.#consumers.add(consumer);
    try {
      await consumer.start(this.#options.connectTimeoutMs);
    } catch (error) {
      this.#consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  /** A confirm channel wrapper whose errors are logged rather than thrown. */
  #createChannel(name: string, setup: ChannelSetup): ChannelWrapper {
    const channel = this.#manager.createChannel({ name, confirm: true, json: false, setup });
    channel.on('error', (error: Error) => {
      this.#log.error({ err: error, channel: name }, 'amqp channel setup failed');
    });
    return channel;
  }

  /**
   * Stops consumers without waiting (call `cancel()` on them first for a graceful
   * stop), then closes the channels and the connection. Unacked messages return
   * to their queues.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((consumer) => consumer.cancel({ timeoutMs: 0 })));
    await this.#publisherChannel?.close().catch(() => undefined);
    await this.#manager.close();
    this.#log.info('amqp connection closed');
  }

  /**
   * amqp-connection-manager only replaces channels when the whole connection
   * drops; a channel the broker closed on its own (e.g. PRECONDITION_FAILED)
   * would stay dead. Reconnecting brings every channel back.
   */
  #onChannelError(error: Error): void {
    this.#log.error({ err: error }, 'amqp channel closed by the broker');
    if (this.#closed || this.#reconnectPending) return;
    this.#reconnectPending = true;
    setImmediate(() => {
      this.#reconnectPending = false;
      if (!this.#closed && this.#manager.isConnected()) this.#manager.reconnect();
    });
  }
}

/**
 * Connects to RabbitMQ and declares the topology. Throws DependencyUnavailableError
 * if the broker cannot be reached within `connectTimeoutMs`, TopologyError if it
 * refuses a queue declaration (e.g. a queue that exists with other arguments).
 */
export async function connectAmqp(options: ConnectOptions): Promise<AmqpConnection> {
  const connection = new AmqpConnection(options);
  await connection.start();
  return connection;
}
