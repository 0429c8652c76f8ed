import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { z } from 'zod';
import { newCorrelationId, withCorrelationId, type Logger } from '@mp3converter/logging';
import { ManagedChannel } from './channel.ts';
import { HandlerAbortedError, InvalidMessageError, UnroutableMessageError } from './errors.ts';
import {
  HEADERS,
  attemptOf,
  correlationIdOf,
  republishProperties,
  type DeathReason,
  type Headers,
} from './headers.ts';
import { decideFailure, describeError } from './retry-policy.ts';
import {
  DEFAULT_RETRY_DELAYS_MS,
  deadQueueName,
  declareTopology,
  retryQueueName,
  type QueueTopology,
} from './topology.ts';

export interface MessageContext {
  /** From the message, or new if it had none; every log line of the handler carries it. */
  correlationId: string;
  /** 1-based; `maxAttempts` is the last one before the message is dead-lettered. */
  attempt: number;
  maxAttempts: number;
  messageId: string | undefined;
  /**
   * The message was delivered before without an ack (by the broker, or handed back at a
   * consumer's shutdown): earlier work may be half done.
   */
  redelivered: boolean;
  /**
   * Aborted (reason: HandlerAbortedError) when the handler runs past `handlerTimeoutMs`, its
   * channel closes, or the consumer stops waiting. Stop work then: the message has been
   * retried or handed back, and a handler that carries on runs beside its next attempt.
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

export interface CancelResult {
  /** True if every running handler finished within the time limit. */
  drained: boolean;
  /** Messages handed back to the queue because their handler did not finish in time. */
  abandoned: number;
}

export interface Consumer {
  readonly queue: string;
  /**
   * Stops taking messages (basic.cancel), waits up to `timeoutMs` for running handlers,
   * aborts those still running and hands their messages back to the queue (as copies that
   * do not count against its delivery limit), then closes the channel.
   */
  cancel(options?: { timeoutMs?: number }): Promise<CancelResult>;
}

/** What the consumer needs from its connection. */
export interface ConsumerHost {
  manager: AmqpConnectionManager;
  /** The connection's one publish path, for retry and dead-letter copies. */
  send(queue: string, content: Buffer, properties: Options.Publish): Promise<void>;
  publishTimeoutMs: number;
  reopenDelayMs: number;
  logger: Logger;
  onStopped(consumer: Consumer): void;
}

interface Delivery {
  channel: ConfirmChannel;
  message: ConsumeMessage;
  controller: AbortController;
  /** Given back to the broker by cancel(): settling it now would do the work twice. */
  abandoned: boolean;
  /** Its retry or dead-letter copy is being sent: cancel() must not give it back too. */
  settling: boolean;
  done: Promise<void>;
}

type Outcome =
  | { action: 'ack' }
  | { action: 'retry'; delayMs: number; nextAttempt: number; error: unknown }
  | { action: 'dead'; reason: DeathReason; error: unknown };

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

// AMQP's prefetch count is 16 bits; Node's timers overflow past 2^31 - 1 ms.
const MAX_PREFETCH = 65_535;
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  #channel: ManagedChannel | undefined;
  #subscription: { raw: ConfirmChannel; consumerTag: string } | undefined;
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
    this.#concurrency = positiveInteger('concurrency', options.concurrency ?? 1, MAX_PREFETCH);
    this.#retryDelaysMs = topology.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    const attempts = options.maxAttempts ?? this.#retryDelaysMs.length + 1;
    this.#maxAttempts = positiveInteger('maxAttempts', attempts, Number.MAX_SAFE_INTEGER);
    const handlerTimeoutMs = options.handlerTimeoutMs ?? 10 * 60_000;
    this.#handlerTimeoutMs = positiveInteger('handlerTimeoutMs', handlerTimeoutMs, MAX_TIMER_MS);
    this.#stopTimeoutMs = positiveInteger(
      'stopTimeoutMs',
      options.stopTimeoutMs ?? 30_000,
      MAX_TIMER_MS,
    );
  }

  /** Resolves once subscribed; throws TopologyError or DependencyUnavailableError. */
  async start(timeoutMs: number): Promise<void> {
    const channel = new ManagedChannel(
      this.#host.manager,
      {
        // On every new channel: after a reconnect (amqp-connection-manager runs setups again)
        // and after a reopen. Subscribing here ties each delivery to the channel it came on.
        setup: async (raw) => {
          await declareTopology(raw, this.#topology);
          if (this.#stopping) return;
          await raw.prefetch(this.#concurrency, false);
          const { consumerTag } = await raw.consume(
            this.queue,
            (message) => {
              // null: the broker cancelled us (queue deleted); a new channel subscribes again.
              if (message === null) channel.reopen(new Error('consumer cancelled by the broker'));
              else this.#onMessage(raw, message);
            },
            { noAck: false },
          );
          this.#subscription = { raw, consumerTag };
          this.#log.info({ prefetch: this.#concurrency }, 'consumer started');
        },
        closed: (raw) => {
          // Their messages go back to the queue with the channel: the work would be done twice.
          for (const delivery of this.#inFlight) {
            if (delivery.channel !== raw) continue;
            delivery.controller.abort(new HandlerAbortedError('AMQP_CHANNEL_CLOSED', this.queue));
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

  #onMessage(channel: ConfirmChannel, message: ConsumeMessage): void {
    if (this.#stopping) {
      // Arrived between basic.cancel and its reply: give it back untouched.
      this.#safely(channel, () => {
        channel.nack(message, false, true);
      });
      return;
    }
    const controller = new AbortController();
    const correlationId = correlationIdOf(message.properties) ?? newCorrelationId();
    const delivery: Delivery = {
      channel,
      message,
      controller,
      abandoned: false,
      settling: false,
      done: Promise.resolve(),
    };
    this.#inFlight.add(delivery);
    delivery.done = withCorrelationId(correlationId, () => this.#process(delivery, correlationId))
      // #process handles its own failures; this is a bug guard, never a silent drop.
      .catch((error: unknown) => {
        this.#log.error({ err: error }, 'message processing failed unexpectedly');
      })
      .finally(() => this.#inFlight.delete(delivery));
  }

  async #process(delivery: Delivery, correlationId: string): Promise<void> {
    const { properties } = delivery.message;
    const attempt = attemptOf(properties.headers);
    const started = performance.now();
    const outcome = await this.#handle(delivery, attempt, correlationId);
    const context = {
      messageId: typeof properties.messageId === 'string' ? properties.messageId : undefined,
      attempt,
      redelivered: isRedelivered(delivery.message),
      durationMs: Math.round(performance.now() - started),
    };
    const { channel, message } = delivery;
    if (delivery.abandoned || !this.#channel?.isOpen(channel)) {
      this.#log.warn({ ...context, outcome: outcome.action }, 'message left to the broker');
      return;
    }
    delivery.settling = true;
    try {
      if (outcome.action !== 'ack') {
        const { code, message: text } = describeError(outcome.error);
        const dead = outcome.action === 'dead';
        const headers: Headers = {
          [HEADERS.attempt]: dead ? attempt : outcome.nextAttempt,
          [HEADERS.errorCode]: code,
          [HEADERS.errorMessage]: text,
          [HEADERS.originalQueue]: this.queue,
          ...(dead && {
            [HEADERS.deathReason]: outcome.reason,
            [HEADERS.deadLetteredAt]: new Date().toISOString(),
          }),
        };
        const target = dead
          ? deadQueueName(this.queue)
          : retryQueueName(this.queue, outcome.delayMs);
        const copy = republishProperties({
          properties: message.properties,
          correlationId,
          headers,
        });
        await this.#host.send(target, message.content, copy);
        const level = dead && !(outcome.error instanceof InvalidMessageError) ? 'error' : 'warn';
        this.#log[level]({ ...context, err: outcome.error, target }, `message sent to ${target}`);
      } else {
        this.#log.info(context, 'message handled');
      }
      // Only now: the copy in the retry or dead queue is confirmed, so the ack loses nothing.
      this.#safely(channel, () => {
        channel.ack(message);
      });
    } catch (error) {
      // The copy was not confirmed. A retry goes back to the queue after a pause; a dead
      // letter is rejected into the dead queue by the work queue's own dead-letter arguments.
      // basic.reject, not nack: since RabbitMQ 4.3 only a reject counts against the delivery
      // limit, and a retry that can never be sent must end dead-lettered, not loop.
      const requeue = outcome.action === 'retry';
      this.#log.error({ ...context, err: error, requeue }, 'settling the message failed');
      if (error instanceof UnroutableMessageError) {
        // Someone deleted a retry or dead queue: declare them again for the next attempt.
        await declareTopology(channel, this.#topology).catch(() => undefined);
      }
      if (requeue) await sleep(this.#host.reopenDelayMs);
      this.#safely(channel, () => {
        channel.reject(message, requeue);
      });
    }
  }

  async #handle(delivery: Delivery, attempt: number, correlationId: string): Promise<Outcome> {
    const { message, controller } = delivery;
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      // A fixed text: JSON.parse quotes the body, which may hold personal data.
      const error = new InvalidMessageError(
        'MESSAGE_NOT_JSON',
        'the message body is not valid JSON',
      );
      return { action: 'dead', reason: 'invalid-json', error };
    }
    const parsed = this.#schema.safeParse(body);
    if (!parsed.success) {
      const summary = parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '(message)'}: ${issue.message}`)
        .join('; ');
      const error = new InvalidMessageError('MESSAGE_SCHEMA_INVALID', summary);
      return { action: 'dead', reason: 'schema-invalid', error };
    }
    const timer = setTimeout(() => {
      controller.abort(new HandlerAbortedError('AMQP_HANDLER_TIMEOUT', this.queue));
    }, this.#handlerTimeoutMs);
    try {
      const messageId: unknown = message.properties.messageId;
      const handled = Promise.resolve(
        this.#handler(parsed.data, {
          correlationId,
          attempt,
          maxAttempts: this.#maxAttempts,
          messageId: typeof messageId === 'string' ? messageId : undefined,
          redelivered: isRedelivered(message),
          signal: controller.signal,
          headers: message.properties.headers ?? {},
        }),
      );
      const aborted = new Promise<never>((_resolve, reject) => {
        controller.signal.addEventListener('abort', () => {
          reject(controller.signal.reason as Error);
        });
      });
      // Whichever loses the race settles later, unobserved.
      handled.catch(() => undefined);
      aborted.catch(() => undefined);
      // Settle when the signal fires even if the handler ignores it: a message left unacked
      // past the broker's consumer_timeout would take its whole channel down.
      await Promise.race([handled, aborted]);
      return { action: 'ack' };
    } catch (error) {
      const decision = decideFailure(error, attempt, this.#maxAttempts, this.#retryDelaysMs);
      return { ...decision, error };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gives a message whose handler was stopped back to the queue as a copy (same body,
   * headers and attempt, marked handed back), then acks the original. Before RabbitMQ 4.3 a
   * requeue counted against the queue's delivery limit, so a long job on converters that
   * keep being scaled down or redeployed would end dead-lettered without ever failing; the
   * copy behaves the same on every broker, at the price of its place in the queue. If the
   * copy is not confirmed, the original is requeued after all: at worst a duplicate, which
   * handlers already tolerate (redelivery), never a loss.
   */
  async #handBack(delivery: Delivery): Promise<void> {
    const { channel, message } = delivery;
    // Its channel closed: the broker has put the message back already.
    if (this.#channel?.isOpen(channel) !== true) return;
    const correlationId = correlationIdOf(message.properties) ?? newCorrelationId();
    try {
      const copy = republishProperties({
        properties: message.properties,
        correlationId,
        headers: { [HEADERS.handedBack]: true },
      });
      await this.#host.send(this.queue, message.content, copy);
      this.#safely(channel, () => {
        channel.ack(message);
      });
    } catch (error) {
      this.#log.warn({ err: error, correlationId }, 'handing the message back failed: requeued');
      this.#safely(channel, () => {
        channel.nack(message, false, true);
      });
    }
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

  cancel(options: { timeoutMs?: number } = {}): Promise<CancelResult> {
    this.#stopped ??= this.#stop(options.timeoutMs ?? this.#stopTimeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<CancelResult> {
    this.#stopping = true;
    const subscription = this.#subscription;
    if (subscription !== undefined && this.#channel?.isOpen(subscription.raw)) {
      await subscription.raw.cancel(subscription.consumerTag).catch((error: unknown) => {
        this.#log.warn({ err: error }, 'basic.cancel failed');
      });
    }
    this.#log.info({ running: this.#inFlight.size }, 'consumer cancelled, draining');
    const waiting = new AbortController();
    const drained = await Promise.race([
      Promise.all([...this.#inFlight].map((delivery) => delivery.done)).then(() => true),
      sleep(timeoutMs, false, { signal: waiting.signal }).catch(() => false),
    ]);
    waiting.abort();
    const handedBack: Promise<void>[] = [];
    for (const delivery of this.#inFlight) {
      if (delivery.settling) continue; // acked or rejected in a moment
      delivery.abandoned = true;
      delivery.controller.abort(new HandlerAbortedError('AMQP_CONSUMER_STOPPED', this.queue));
      handedBack.push(this.#handBack(delivery));
    }
    await Promise.all(handedBack);
    const abandoned = handedBack.length;
    await this.#channel?.close();
    this.#host.onStopped(this);
    this.#log.info({ drained, abandoned }, 'consumer stopped');
    return { drained, abandoned };
  }
}

function isRedelivered(message: ConsumeMessage): boolean {
  return message.fields.redelivered || message.properties.headers?.[HEADERS.handedBack] === true;
}
