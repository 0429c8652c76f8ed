import { hostname } from 'node:os';
import {
  connectAmqp,
  type AmqpConnection,
  type Consumer,
  type MessageHandler,
} from '@mp3converter/amqp';
import {
  QUEUE_TOPOLOGY,
  conversionFailedMessageSchema,
  mp3MessageSchema,
} from '@mp3converter/contracts';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { JobStore } from '@mp3converter/jobs';
import { InFlight, retryUntilAvailable, startProbeServer } from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';
import { connectMongo, type MongoConnection } from '@mp3converter/mongo';
import type { NotificationConfig } from './config.ts';
import { DeliveryStore } from './deliveries.ts';
import { createMailer } from './mailer.ts';
import { NotificationMetrics } from './metrics.ts';
import { conversionFailedHandler, mp3Handler } from './notify.ts';

export interface Notifier {
  /** The port of /healthz, /readyz and /metrics. */
  port: number;
  /** Resolves once connected and consuming both queues. */
  ready: Promise<void>;
  /** Stops taking messages, lets emails being sent finish (SHUTDOWN_GRACE_MS), disconnects. */
  stop(): Promise<void>;
}

/** What stop() needs beyond the grace period: requeue, close the connections. */
const STOP_MARGIN_MS = 10_000;
/** Handler time limit: an email takes seconds; three SMTP timeouts and MongoDB's are the most. */
const HANDLER_MARGIN_MS = 60_000;
/**
 * The lease on an email outlasts its handler by this much: past the handler's limit its send
 * is aborted, so when another attempt takes the lease over no send of it is still running.
 */
const LEASE_MARGIN_MS = 60_000;
/** After the grace period, how long handlers stopped midway get to abort their sends. */
const ABORT_CLEANUP_MS = 5_000;

export function shutdownBudgetMs(config: NotificationConfig): number {
  return config.shutdownGraceMs + STOP_MARGIN_MS;
}

/**
 * Starts the notification service: probes at once, then MongoDB and RabbitMQ (waited for if
 * down), then consuming `mp3` and `conversion-failed`. The SMTP server is checked at start and
 * only logged about: emails wait in their queues while it is away.
 */
export async function startNotifier(config: NotificationConfig, log: Logger): Promise<Notifier> {
  const metrics = new NotificationMetrics();
  const stopping = new AbortController();
  // Each of the two queues has CONCURRENCY handlers: a connection for every one of them.
  const mailer = createMailer(
    config.smtp,
    { address: config.mail.fromAddress, name: config.mail.fromName },
    2 * config.amqp.concurrency,
  );
  const running = new InFlight();
  const tracked =
    <T>(handler: MessageHandler<T>): MessageHandler<T> =>
    (message, context) =>
      running.run(() => handler(message, context));
  const handlerTimeoutMs = 3 * config.smtp.timeoutMs + HANDLER_MARGIN_MS;
  let mongo: MongoConnection | undefined;
  let amqp: AmqpConnection | undefined;
  const consumers: Consumer[] = [];

  const probes = await startProbeServer({
    host: config.http.host,
    port: config.http.port,
    log,
    metrics: metrics.registry,
    readiness: {
      mongodb: async () => {
        if (mongo === undefined) throw new DependencyUnavailableError('mongodb');
        await mongo.ping();
      },
      rabbitmq: () => {
        if (amqp?.isConnected() !== true || consumers.length < 2) {
          throw new DependencyUnavailableError('rabbitmq');
        }
        return Promise.resolve();
      },
    },
  });

  const prepare = async (): Promise<void> => {
    const { signal } = stopping;
    void mailer.verify().then((usable) => {
      const smtp = { host: config.smtp.host, port: config.smtp.port, tls: config.smtp.tls };
      if (usable) log.info({ smtp }, 'SMTP server reachable');
      else log.warn({ smtp }, 'SMTP server not usable now; emails wait and are retried');
    });
    mongo = await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, () =>
      connectMongo({ url: config.mongo.url, logger: log, appName: 'notification' }),
    );
    if (mongo === undefined) return;
    const db = mongo.db(config.mongo.jobsDatabase);
    const deliveries = new DeliveryStore(db, handlerTimeoutMs + LEASE_MARGIN_MS);
    await retryUntilAvailable({ signal, log, dependency: 'mongodb' }, () =>
      deliveries.ensureIndexes(),
    );
    amqp = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, () =>
      connectAmqp({
        url: config.amqp.url,
        logger: log,
        connectionName: `notification ${hostname()}:${process.pid}`,
      }),
    );
    if (amqp === undefined || signal.aborted) return;
    const connection = amqp;
    const deps = {
      jobs: new JobStore(db),
      deliveries,
      mailer,
      metrics,
      links: config.links,
      messageIdDomain: config.mail.fromAddress.slice(config.mail.fromAddress.lastIndexOf('@') + 1),
      leaseMarginMs: LEASE_MARGIN_MS,
      log,
    };
    const options = {
      concurrency: config.amqp.concurrency,
      maxAttempts: config.amqp.maxAttempts,
      handlerTimeoutMs,
      stopTimeoutMs: config.shutdownGraceMs,
    };
    for (const consume of [
      () =>
        connection.consume(
          QUEUE_TOPOLOGY.mp3,
          mp3MessageSchema,
          tracked(mp3Handler(deps)),
          options,
        ),
      () =>
        connection.consume(
          QUEUE_TOPOLOGY.conversionFailed,
          conversionFailedMessageSchema,
          tracked(conversionFailedHandler(deps)),
          options,
        ),
    ]) {
      const consumer = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, consume);
      if (consumer === undefined) return;
      consumers.push(consumer);
    }
    log.info({ concurrency: config.amqp.concurrency }, 'ready');
  };

  return {
    port: probes.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      const results = await Promise.all(
        consumers.map((consumer) => consumer.cancel({ timeoutMs: config.shutdownGraceMs })),
      );
      for (const [n, result] of results.entries()) {
        log.info({ queue: consumers[n]?.queue, ...result }, 'consumer stopped');
      }
      // Handlers given up on were aborted: their sends stop; they still record what they did.
      await running.settled(ABORT_CLEANUP_MS);
      mailer.close();
      await Promise.allSettled([amqp?.close(), mongo?.close()]);
      await probes.close();
    },
  };
}
