import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { z } from 'zod';
import { newCorrelationId, withCorrelationId, type Logger } from '@mp3converter/logging';
import { ManagedChannel } from './channel.ts';
import {
  ChannelClosedError,
  ConsumerStoppedError,
  HandlerTimeoutError,
  InvalidMessageError,
} from './errors.ts';
import {
  HEADERS,
  attemptOf,
  correlationIdOf,
  republishProperties,
  truncate,
  type DeathReason,
  type Headers,
} from './headers.ts';
import type { Publisher } from './publisher.ts';
import { decideFailure, describeError } from './retry-policy.ts';
import {
  deadQueueName,
  declareTopology,
  retryQueueName,
  validRetryDelays,
  DEFAULT_RETRY_DELAYS_MS,
  type QueueTopology,
} from './topology.ts';

export interface MessageContext {
  /** From the message, or new if it had none; every log line of the handler carries it. */
  correlationId: string;
  /** 1-based; `maxAttempts` is the last one before the message is dead-lettered. */
  attempt: number;
  maxAttempts: number;
  messageId: string | undefined;
  /** The broker delivered this message before without an ack: earlier work may be half done. */
  redelivered: boolean;
  /**
   * Aborted when the handler runs past `handlerTimeoutMs`, when its channel closes, or when
   * the consumer stops without waiting any longer. Stop work when it fires: the message has
   * been retried or handed back, and a handler that carries on runs beside its next attempt.
   */
  signal: AbortSignal;
  headers: Readonly<Headers>;
}

/** Returns when the message is handled; throws to have it retried (retryable error) or dead-lettered. */
export type MessageHandler<T> = (message: T, context: MessageContext) => Promise<void> | void;

export interface ConsumeOptions {
  /** Messages handled at once; also the prefetch. Default 1. */
  concurrency?: number;
  /** Attempts before a retryable failure is dead-lettered. Default: one per retry delay, plus one. */
  maxAttempts?: number;
  /**
   * How long one handler may run before it is aborted and the attempt retried. Default 10 min.
   * Keep it below the broker's `consumer_timeout` (30 min by default): past that, RabbitMQ
   * closes the channel and every message in flight on it goes back to the queue.
   */
  handlerTimeoutMs?: number;
  /** How long `cancel()` waits for running handlers by default. Default 30 s. */
  stopTimeoutMs?: number;
}

export interface CancelOptions {
  /** How long to wait for running handlers; then they are aborted and their messages requeued. */
  timeoutMs?: number;
}

export interface CancelResult {
  /** True if every running handler finished within the time limit. */
  drained: boolean;
  /** Messages handed back to the broker because their handler did not finish in time. */
  abandoned: number;
}

export interface Consumer {
  readonly queue: string;
  /** Stops taking messages (basic.cancel), waits for running handlers, then closes the channel. */
  cancel(options?: CancelOptions): Promise<CancelResult>;
}

/** What the consumer needs from its connection. */
export interface ConsumerHost {
  manager: AmqpConnectionManager;
  publisher: Publisher;
  publishTimeoutMs: number;
  reopenDelayMs: number;
  logger: Logger;
  onStopped(consumer: Consumer): void;
}

interface Delivery {
  channel: ConfirmChannel;
  message: ConsumeMessage;
  controller: AbortController;
  abandoned: boolean;
}

type Outcome =
  | { action: 'ack' }
  | { action: 'retry'; delayMs: number; nextAttempt: number; error: unknown }
  | { action: 'dead'; reason: DeathReason; code: string; message: string; error?: unknown };

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer between 1 and ${max}, got ${value}`);
  }
  return value;
}

/**
 * Consumes one queue on a channel of its own, so its prefetch and its failures stay its
 * own. amqp-connection-manager re-subscribes it after reconnects and broker cancels; this
 * class owns ack, retry and dead-lettering, so handlers only return or throw.
 */
export class QueueConsumer<T> implements Consumer {
  readonly queue: string;
  readonly #topology: QueueTopology;
  readonly #schema: z.ZodType<T>;
  readonly #handler: MessageHandler<T>;
  readonly #host: ConsumerHost;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #retryDelaysMs: readonly number[];
  readonly #maxAttempts: number;
  readonly #handlerTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #inFlight = new Set<Delivery>();
  readonly #idleWaiters = new Set<() => void>();
  #channel: ManagedChannel | undefined;
  #consumerTag: string | undefined;
  #stopping = false;
  #stopped: Promise<CancelResult> | undefined;

  constructor(
    topology: QueueTopology,
    schema: z.ZodType<T>,
    handler: MessageHandler<T>,
    options: ConsumeOptions,
    host: ConsumerHost,
  ) {
    this.queue = topology.queue;
    this.#topology = topology;
    this.#schema = schema;
    this.#handler = handler;
    this.#host = host;
    this.#log = host.logger.child({ module: 'amqp-consumer', queue: this.queue });
    this.#concurrency = positiveInteger('concurrency', options.concurrency ?? 1, 65_535);
    this.#retryDelaysMs = validRetryDelays(topology.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS);
    this.#maxAttempts = positiveInteger(
      'maxAttempts',
      options.maxAttempts ?? this.#retryDelaysMs.length + 1,
    );
    this.#handlerTimeoutMs = positiveInteger(
      'handlerTimeoutMs',
      options.handlerTimeoutMs ?? 10 * 60_000,
    );
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  }

  /** Resolves once the consumer is subscribed; throws TopologyError or DependencyUnavailableError. */
  async start(timeoutMs: number): Promise<void> {
    const channel = new ManagedChannel(
      this.#host.manager,
      {
        setup: (raw) => declareTopology(raw, this.#topology),
        opened: async (wrapper) => {
          if (this.#stopping) return;
          const { consumerTag } = await wrapper.consume(
            this.queue,
            (message) => {
              this.#onMessage(message);
            },
            { noAck: false, prefetch: this.#concurrency },
          );
          this.#consumerTag = consumerTag;
          this.#log.info({ consumerTag, prefetch: this.#concurrency }, 'consumer started');
        },
        closed: (raw) => {
          // Their messages go back to the queue with the channel: the work would be done twice.
          for (const delivery of this.#inFlight) {
            if (delivery.channel === raw)
              delivery.controller.abort(new ChannelClosedError(this.queue));
          }
        },
      },
      {
        name: `consumer:${this.queue}`,
        publishTimeoutMs: this.#host.publishTimeoutMs,
        reopenDelayMs: this.#host.reopenDelayMs,
        log: this.#log,
      },
    );
    this.#channel = channel;
    try {
      await channel.ready(timeoutMs, this.queue);
    } catch (error) {
      this.#stopping = true;
      await channel.close();
      throw error;
    }
  }

  #onMessage(message: ConsumeMessage): void {
    // Set up before any consume on it, and only replaced after it closed: this is the
    // channel the message came on, where it must be acked.
    const channel = this.#channel?.current;
    if (channel === undefined) return;
    if (this.#stopping) {
      // Arrived between basic.cancel and its reply: give it back untouched.
      this.#safely(channel, () => {
        channel.nack(message, false, true);
      });
      return;
    }
    const delivery: Delivery = {
      channel,
      message,
      controller: new AbortController(),
      abandoned: false,
    };
    this.#inFlight.add(delivery);
    void this.#process(delivery)
      .catch((error: unknown) => {
        // #process handles its own failures; this is a bug guard, never a silent drop.
        this.#log.error({ err: error }, 'message processing failed unexpectedly');
      })
      .finally(() => {
        this.#inFlight.delete(delivery);
        if (this.#inFlight.size === 0) for (const wake of this.#idleWaiters) wake();
      });
  }

  async #process(delivery: Delivery): Promise<void> {
    const { properties, fields } = delivery.message;
    const correlationId = correlationIdOf(properties) ?? newCorrelationId();
    await withCorrelationId(correlationId, async () => {
      const attempt = attemptOf(properties.headers);
      const started = performance.now();
      const outcome = await this.#handle(delivery, attempt, correlationId);
      const context = {
        messageId: typeof properties.messageId === 'string' ? properties.messageId : undefined,
        attempt,
        redelivered: fields.redelivered,
        durationMs: Math.round(performance.now() - started),
      };
      await this.#settle(delivery, outcome, attempt, correlationId, context);
    });
  }

  async #handle(delivery: Delivery, attempt: number, correlationId: string): Promise<Outcome> {
    const { message, controller } = delivery;
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      // A fixed text: JSON.parse quotes the body, which may hold personal data.
      return invalid(
        new InvalidMessageError('MESSAGE_NOT_JSON', 'the message body is not valid JSON'),
        'invalid-json',
      );
    }
    const parsed = this.#schema.safeParse(body);
    if (!parsed.success) {
      const summary = parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '(message)'}: ${issue.message}`)
        .join('; ');
      return invalid(new InvalidMessageError('MESSAGE_SCHEMA_INVALID', summary), 'schema-invalid');
    }
    const messageId: unknown = message.properties.messageId;
    const timer = setTimeout(() => {
      controller.abort(new HandlerTimeoutError(this.queue, this.#handlerTimeoutMs));
    }, this.#handlerTimeoutMs);
    try {
      const handled = Promise.resolve(
        this.#handler(parsed.data, {
          correlationId,
          attempt,
          maxAttempts: this.#maxAttempts,
          messageId: typeof messageId === 'string' ? messageId : undefined,
          redelivered: message.fields.redelivered,
          signal: controller.signal,
          headers: message.properties.headers ?? {},
        }),
      );
      const aborted = rejectOnAbort(controller.signal);
      // Whichever loses the race settles later, unobserved.
      handled.catch(() => undefined);
      aborted.catch(() => undefined);
      // Settle when the signal fires even if the handler ignores it: a message left unacked
      // past the broker's consumer_timeout would take its whole channel down.
      await Promise.race([handled, aborted]);
      return { action: 'ack' };
    } catch (error) {
      const decision = decideFailure(error, attempt, this.#maxAttempts, this.#retryDelaysMs);
      if (decision.action === 'retry') return { ...decision, error };
      return { action: 'dead', reason: decision.reason, ...describeError(error), error };
    } finally {
      clearTimeout(timer);
    }
  }

  async #settle(
    delivery: Delivery,
    outcome: Outcome,
    attempt: number,
    correlationId: string,
    context: Record<string, unknown>,
  ): Promise<void> {
    const { channel, message } = delivery;
    if (delivery.abandoned || !this.#channel?.isOpen(channel)) {
      this.#log.warn(
        { ...context, outcome: outcome.action },
        'message not settled: its channel closed or its consumer stopped; the broker redelivers it',
      );
      return;
    }
    try {
      switch (outcome.action) {
        case 'ack':
          this.#log.info(context, 'message handled');
          break;
        case 'retry': {
          const target = retryQueueName(this.queue, outcome.delayMs);
          await this.#republish(delivery, target, correlationId, {
            [HEADERS.attempt]: outcome.nextAttempt,
            ...errorHeaders(describeError(outcome.error)),
          });
          this.#log.warn(
            { ...context, err: outcome.error, retryQueue: target, delayMs: outcome.delayMs },
            'handler failed, retry scheduled',
          );
          break;
        }
        case 'dead': {
          await this.#republish(delivery, deadQueueName(this.queue), correlationId, {
            [HEADERS.attempt]: attempt,
            [HEADERS.deathReason]: outcome.reason,
            [HEADERS.deadLetteredAt]: new Date().toISOString(),
            ...errorHeaders(outcome),
          });
          const fields = {
            ...context,
            err: outcome.error,
            reason: outcome.reason,
            code: outcome.code,
          };
          const invalidMessage =
            outcome.reason === 'invalid-json' || outcome.reason === 'schema-invalid';
          this.#log[invalidMessage ? 'warn' : 'error'](fields, 'message dead-lettered');
          break;
        }
      }
      // Only now: the copy in the retry or dead queue is confirmed, so the ack loses nothing.
      this.#safely(channel, () => {
        channel.ack(message);
      });
    } catch (error) {
      // The copy was not confirmed. A retry goes back to the queue (the broker's delivery
      // limit bounds that); a dead letter is rejected into the dead queue by the work
      // queue's own dead-letter arguments. Nothing is lost and nothing loops.
      const requeue = outcome.action === 'retry';
      this.#log.error({ ...context, err: error, requeue }, 'settling the message failed');
      this.#safely(channel, () => {
        channel.nack(message, false, requeue);
      });
    }
  }

  async #republish(
    delivery: Delivery,
    queue: string,
    correlationId: string,
    headers: Headers,
  ): Promise<void> {
    const properties = republishProperties({
      properties: delivery.message.properties,
      correlationId,
      headers: { ...headers, [HEADERS.originalQueue]: this.queue },
    });
    await this.#host.publisher.send(queue, delivery.message.content, properties);
  }

  #safely(channel: ConfirmChannel, operation: () => void): void {
    if (this.#channel?.isOpen(channel) === false) return;
    try {
      operation();
    } catch (error) {
      // amqplib throws when the channel closed in the meantime; the broker redelivers.
      this.#log.warn({ err: error }, 'channel operation failed');
    }
  }

  cancel(options: CancelOptions = {}): Promise<CancelResult> {
    this.#stopped ??= this.#stop(options.timeoutMs ?? this.#stopTimeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<CancelResult> {
    this.#stopping = true;
    if (this.#consumerTag !== undefined) {
      await this.#channel?.wrapper.cancel(this.#consumerTag).catch((error: unknown) => {
        this.#log.warn({ err: error }, 'basic.cancel failed');
      });
    }
    this.#log.info({ running: this.#inFlight.size }, 'consumer cancelled, draining');
    const drained = await this.#waitForIdle(timeoutMs);
    const abandoned = this.#inFlight.size;
    for (const delivery of this.#inFlight) {
      delivery.abandoned = true;
      delivery.controller.abort(new ConsumerStoppedError(this.queue));
      this.#safely(delivery.channel, () => {
        delivery.channel.nack(delivery.message, false, true);
      });
    }
    if (!drained) {
      this.#log.warn(
        { abandoned, timeoutMs },
        'handlers still running at stop; their messages were requeued',
      );
    }
    await this.#channel?.close();
    this.#host.onStopped(this);
    this.#log.info({ drained, abandoned }, 'consumer stopped');
    return { drained, abandoned };
  }

  #waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(wake);
        resolve(idle);
      };
      const wake = (): void => {
        done(true);
      };
      const timer = setTimeout(() => {
        done(false);
      }, timeoutMs);
      this.#idleWaiters.add(wake);
    });
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener(
      'abort',
      () => {
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

function invalid(error: InvalidMessageError, reason: DeathReason): Outcome {
  return { action: 'dead', reason, code: error.code, message: truncate(error.message) };
}

function errorHeaders(error: { code: string; message: string }): Headers {
  return { [HEADERS.errorCode]: error.code, [HEADERS.errorMessage]: error.message };
}
