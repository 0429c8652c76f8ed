import type { z } from 'zod';
import type {
  AmqpConnection,
  ConsumeOptions,
  Consumer,
  MessageHandler,
  QueueTopology,
} from '@mp3converter/amqp';
import {
  InFlight,
  retryUntilAvailable,
  startProbeServer,
  type MetricsSource,
} from '@mp3converter/lifecycle';
import { Backends, type BackendOptions } from './backends.ts';

/** One queue a worker consumes. */
export interface WorkerConsumer<M = never> {
  queue: QueueTopology;
  schema: z.ZodType<M>;
  handler: MessageHandler<M>;
  options: Omit<ConsumeOptions, 'stopTimeoutMs'>;
}

/** Builds a consumer with its message type checked, for a list of several kinds. */
export function consumerOf<M>(consumer: WorkerConsumer<M>): WorkerConsumer<unknown> {
  return consumer as unknown as WorkerConsumer<unknown>;
}

export interface WorkerOptions<T> extends BackendOptions<T> {
  config: BackendOptions<T>['config'] & {
    /** Where /healthz, /readyz and /metrics answer. */
    http: { host: string; port: number };
    /** How long stop() waits for handlers in hand before handing their messages back. */
    shutdownGraceMs: number;
  };
  metrics: MetricsSource;
  /** The queues to consume, once connected: their handlers use what `prepare` opened. */
  consumers: (prepared: T, amqp: AmqpConnection) => WorkerConsumer<unknown>[];
  /** Runs on stop once every handler has settled, before the connections close. */
  onStop?: () => Promise<void> | void;
}

export interface Worker {
  /** The port of /healthz, /readyz and /metrics. */
  port: number;
  /** Resolves once connected and consuming every queue. */
  ready: Promise<void>;
  /** Stops taking messages, lets handlers in hand finish (the grace period), disconnects. */
  stop(): Promise<void>;
}

/** After the grace period, how long handlers stopped midway get to clean up (kill ffmpeg, abort a send). */
const ABORT_CLEANUP_MS = 5_000;

/**
 * A RabbitMQ worker: probes at once, then MongoDB and RabbitMQ (waited for while down), then
 * its consumers, each with the prefetch its options give. Every handler is tracked until it
 * settles, even after its consumer stopped waiting for it at shutdown, so stop() never
 * closes the connections under a handler still cleaning up.
 */
export async function startWorker<T>(options: WorkerOptions<T>): Promise<Worker> {
  const { log, config } = options;
  const { shutdownGraceMs } = config;
  const stopping = new AbortController();
  const backends = new Backends(options);
  const running = new InFlight();
  const consumers: Consumer[] = [];
  let expected = Number.POSITIVE_INFINITY;

  const probes = await startProbeServer({
    host: config.http.host,
    port: config.http.port,
    log,
    metrics: options.metrics,
    readiness: backends.readiness(() => consumers.length >= expected),
  });

  const prepare = async (): Promise<void> => {
    const { signal } = stopping;
    const connected = await backends.connect(signal);
    if (connected === undefined) return;
    const wanted = options.consumers(connected.prepared, connected.amqp);
    expected = wanted.length;
    for (const { queue, schema, handler, options: consumeOptions } of wanted) {
      const consumer = await retryUntilAvailable({ signal, log, dependency: 'rabbitmq' }, () =>
        connected.amqp.consume(
          queue,
          schema,
          (message, context) => running.run(() => handler(message, context)),
          { ...consumeOptions, stopTimeoutMs: shutdownGraceMs },
        ),
      );
      if (consumer === undefined) return;
      consumers.push(consumer);
    }
    log.info({ concurrency: wanted[0]?.options.concurrency }, 'ready');
  };

  return {
    port: probes.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      const results = await Promise.all(
        consumers.map((consumer) => consumer.cancel({ timeoutMs: shutdownGraceMs })),
      );
      for (const [n, result] of results.entries()) {
        log.info({ queue: consumers[n]?.queue, ...result }, 'consumer stopped');
      }
      // Handlers given up on were aborted: they still stop their work and record what they did.
      await running.settled(ABORT_CLEANUP_MS);
      await options.onStop?.();
      await backends.close();
      await probes.close();
    },
  };
}
