import {
  QUEUE_TOPOLOGY,
  conversionFailedMessageSchema,
  mp3MessageSchema,
} from '@mp3converter/contracts';
import { JobStore } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { consumerOf, startWorker, type Worker } from '@mp3converter/service';
import type { NotificationConfig } from './config.ts';
import { DeliveryStore } from './deliveries.ts';
import { createMailer } from './mailer.ts';
import { NotificationMetrics } from './metrics.ts';
import { conversionFailedHandler, mp3Handler } from './notify.ts';

export type Notifier = Worker;

/** What stop() needs beyond the grace period: requeue, close the connections. */
const STOP_MARGIN_MS = 10_000;
/** Handler time limit: an email takes seconds; three SMTP timeouts and MongoDB's are the most. */
const HANDLER_MARGIN_MS = 60_000;
/**
 * The lease on an email outlasts its handler by this much: past the handler's limit its send
 * is aborted, so when another attempt takes the lease over no send of it is still running.
 */
const LEASE_MARGIN_MS = 60_000;

export function shutdownBudgetMs(config: NotificationConfig): number {
  return config.shutdownGraceMs + STOP_MARGIN_MS;
}

/**
 * The notification service: consumes `mp3` and `conversion-failed` and emails each job's
 * owner once. The SMTP server is checked at start and only logged about: emails wait in
 * their queues while it is away.
 */
export async function startNotifier(config: NotificationConfig, log: Logger): Promise<Notifier> {
  const metrics = new NotificationMetrics();
  // Each of the two queues has CONCURRENCY handlers: a connection for every one of them.
  const mailer = createMailer(
    config.smtp,
    { address: config.mail.fromAddress, name: config.mail.fromName },
    2 * config.amqp.concurrency,
  );
  void mailer.verify().then((usable) => {
    const smtp = { host: config.smtp.host, port: config.smtp.port, tls: config.smtp.tls };
    if (usable) log.info({ smtp }, 'SMTP server reachable');
    else log.warn({ smtp }, 'SMTP server not usable now; emails wait and are retried');
  });
  const handlerTimeoutMs = 3 * config.smtp.timeoutMs + HANDLER_MARGIN_MS;

  return startWorker({
    name: 'notification',
    config,
    log,
    metrics: metrics.registry,
    prepare: async (mongo) => {
      const db = mongo.db(config.mongo.jobsDatabase);
      const deliveries = new DeliveryStore(db, handlerTimeoutMs + LEASE_MARGIN_MS);
      await deliveries.ensureIndexes();
      return { jobs: new JobStore(db), deliveries };
    },
    consumers: ({ jobs, deliveries }) => {
      const deps = {
        jobs,
        deliveries,
        mailer,
        metrics,
        links: config.links,
        messageIdDomain: config.mail.fromAddress.slice(
          config.mail.fromAddress.lastIndexOf('@') + 1,
        ),
        leaseMarginMs: LEASE_MARGIN_MS,
        log,
      };
      const options = {
        concurrency: config.amqp.concurrency,
        maxAttempts: config.amqp.maxAttempts,
        handlerTimeoutMs,
      };
      return [
        consumerOf({
          queue: QUEUE_TOPOLOGY.mp3,
          schema: mp3MessageSchema,
          handler: mp3Handler(deps),
          options,
        }),
        consumerOf({
          queue: QUEUE_TOPOLOGY.conversionFailed,
          schema: conversionFailedMessageSchema,
          handler: conversionFailedHandler(deps),
          options,
        }),
      ];
    },
    onStop: () => {
      mailer.close();
    },
  });
}
