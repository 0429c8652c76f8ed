import { hostname } from 'node:os';
import { connectAmqp, type AmqpConnection, type QueueTopology } from '@mp3converter/amqp';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { retryUntilAvailable, type ReadinessCheck } from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';
import { connectMongo, type MongoConnection } from '@mp3converter/mongo';

export interface BackendOptions<T> {
  /** The service's name: MongoDB's appName, and the start of RabbitMQ's connection name. */
  name: string;
  log: Logger;
  /** Where the servers are, from the service's configuration. */
  config: {
    mongo: { url: string };
    amqp: { url: string; publishTimeoutMs?: number };
  };
  /**
   * Opens what the service uses on MongoDB (buckets, stores) and creates its indexes; run
   * again while MongoDB is unavailable, so it must be idempotent.
   */
  prepare: (mongo: MongoConnection) => Promise<T>;
  /** The queues this service publishes to, declared now and after every reconnect. */
  publishesTo?: readonly QueueTopology[];
  /** Shown by the broker (`connection_name`). Default: `<name> <host>:<pid>`. */
  connectionName?: string;
}

export interface Connected<T> {
  mongo: MongoConnection;
  amqp: AmqpConnection;
  /** What `mongo.prepare` returned. */
  prepared: T;
}

/**
 * MongoDB, then RabbitMQ, for a service that needs both: connected in that order, each waited
 * for while it is down (a service starts before its dependencies and stays unready meanwhile),
 * checked by /readyz, closed once.
 */
export class Backends<T> {
  readonly #options: BackendOptions<T>;
  #mongo: MongoConnection | undefined;
  #amqp: AmqpConnection | undefined;

  constructor(options: BackendOptions<T>) {
    this.#options = options;
  }

  /** The /readyz checks; `consuming` adds what RabbitMQ must also have (say, every consumer). */
  readiness(consuming: () => boolean = () => true): Record<string, ReadinessCheck> {
    return {
      mongodb: async () => {
        if (this.#mongo === undefined) throw new DependencyUnavailableError('mongodb');
        await this.#mongo.ping();
      },
      rabbitmq: () => {
        if (this.#amqp?.isConnected() !== true || !consuming()) {
          throw new DependencyUnavailableError('rabbitmq');
        }
        return Promise.resolve();
      },
    };
  }

  /** Connects and prepares; resolves undefined when `signal` stops it first. */
  async connect(signal: AbortSignal): Promise<Connected<T> | undefined> {
    const { name, log, config, prepare, publishesTo } = this.#options;
    const { publishTimeoutMs } = config.amqp;
    this.#mongo = await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, () =>
      connectMongo({ url: config.mongo.url, logger: log, appName: name }),
    );
    const mongo = this.#mongo;
    if (mongo === undefined) return undefined;
    const prepared = await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, () =>
      prepare(mongo),
    );
    if (prepared === undefined) return undefined;
    this.#amqp = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, () =>
      connectAmqp({
        url: config.amqp.url,
        logger: log,
        connectionName: this.#options.connectionName ?? `${name} ${hostname()}:${process.pid}`,
        ...(publishTimeoutMs === undefined ? {} : { publishTimeoutMs }),
        ...(publishesTo === undefined ? {} : { topology: publishesTo }),
      }),
    );
    if (this.#amqp === undefined || signal.aborted) return undefined;
    return { mongo, amqp: this.#amqp, prepared };
  }

  /** Closes both connections; one failing to close does not keep the other open. */
  async close(): Promise<void> {
    await Promise.allSettled([this.#amqp?.close(), this.#mongo?.close()]);
  }
}
