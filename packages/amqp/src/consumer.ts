import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { z } from 'zod';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { newCorrelationId, withCorrelationId, type Logger } from '@mp3converter/logging';
import {
  errorText,
  isChannelOpen,
  publishConfirmed,
  watchChannel,
  type ChannelWatch,
} from './confirm-channel.ts';
import {
  ChannelClosedError,
  ConsumerStoppedError,
  InvalidMessageError,
  TopologyError,
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
import { decideFailure, describeError } from './retry-policy.ts';
import { isBrokerRefusal, observeFirstRun, withTimeout, type ChannelSetup } from './setup.ts';
import {
  DEFAULT_RETRY_DELAYS_MS,
  deadQueueName,
  declareTopology,
  retryQueueName,
  validRetryDelays,
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
  /** Aborted when the consumer stops without waiting for this handler any longer. */
  signal: AbortSignal;
  headers: Readonly<Headers>;
}

/** Returns when the message is handled; throws to have it retried (retryable error) or dead-lettered. */
export type MessageHandler<T> = (message: T, context: MessageContext) => Promise<void> | void;

export interface ConsumeOptions {
  /** Messages handled at once; also the prefetch. Default 1. */
  concurrency?: number;
  /** Delays of the retry queues, as declared in the topology. */
  retryDelaysMs?: readonly number[];
  /** Attempts before a retryable failure is dead-lettered. Default: one per retry delay, plus one. */
  maxAttempts?: number;
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
  createChannel(name: string, setup: ChannelSetup): ChannelWrapper;
  channelWatch: ChannelWatch;
  publishTimeoutMs: number;
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

const RESUBSCRIBE_DELAY_MS = 1_000;

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer between 1 and ${max}, got ${value}`);
  }
  return value;
}

export class QueueConsumer<T> implements Consumer {
  readonly queue: string;
  readonly #schema: z.ZodType<T>;
  readonly #handler: MessageHandler<T>;
  readonly #host: ConsumerHost;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #retryDelaysMs: readonly number[];
  readonly #maxAttempts: number;
  readonly #stopTimeoutMs: number;
  readonly #inFlight = new Set<Delivery>();
  readonly #idleWaiters = new Set<() => void>();
  #wrapper: ChannelWrapper | undefined;
  #subscription: { channel: ConfirmChannel; consumerTag: string } | undefined;
  #stopping = false;
  #stopped: Promise<CancelResult> | undefined;

  constructor(
    queue: string,
    schema: z.ZodType<T>,
    handler: MessageHandler<T>,
    options: ConsumeOptions,
    host: ConsumerHost,
  ) {
    this.queue = queue;
    this.#schema = schema;
    this.#handler = handler;
    this.#host = host;
    this.#log = host.logger.child({ module: 'amqp-consumer', queue });
    this.#concurrency = positiveInteger('concurrency', options.concurrency ?? 1, 65_535);
    this.#retryDelaysMs = validRetryDelays(options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS);
    this.#maxAttempts = positiveInteger(
      'maxAttempts',
      options.maxAttempts ?? this.#retryDelaysMs.length + 1,
    );
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  }

  /** Opens the consumer's own channel; resolves once it consumes, rejects if the first setup fails. */
  async start(timeoutMs: number): Promise<void> {
    // Runs on the first channel and again on every new channel after a reconnect.
    const { setup, firstOutcome } = observeFirstRun(async (channel) => {
      channel.once('close', () => {
        this.#abortDeliveriesOf(channel);
      });
      await this.#subscribe(channel);
    });
    const wrapper = this.#host.createChannel(`consumer:${this.queue}`, setup);
    this.#wrapper = wrapper;
    try {
      await withTimeout(firstOutcome, timeoutMs, `the consumer of ${this.queue} was not ready`);
    } catch (error) {
      this.#stopping = true;
      await wrapper.close().catch(() => undefined);
      if (!isBrokerRefusal(error)) {
        throw new DependencyUnavailableError('rabbitmq', { cause: error });
      }
      throw new TopologyError(`consuming ${this.queue} failed: ${errorText(error)}`, this.queue, {
        cause: error,
      });
    }
  }

  /** Their messages go back to the queue with the channel: the work would be done twice. */
  #abortDeliveriesOf(channel: ConfirmChannel): void {
    for (const delivery of this.#inFlight) {
      if (delivery.channel === channel) {
        delivery.controller.abort(new ChannelClosedError(this.queue));
      }
    }
  }

  async #subscribe(channel: ConfirmChannel): Promise<void> {
    watchChannel(channel, this.#host.channelWatch);
    await declareTopology(channel, { queue: this.queue, retryDelaysMs: this.#retryDelaysMs });
    if (this.#stopping) return;
    // Per consumer (global = false): the broker hands out at most this many unacked messages.
    await channel.prefetch(this.#concurrency, false);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => {
        this.#onMessage(channel, message);
      },
      { noAck: false },
    );
    this.#subscription = { channel, consumerTag };
    this.#log.info({ consumerTag, prefetch: this.#concurrency }, 'consumer started');
  }

  #onMessage(channel: ConfirmChannel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled us, e.g. the queue was deleted: declare it again and resubscribe.
      this.#subscription = undefined;
      if (this.#stopping) return;
      this.#log.warn('consumer cancelled by the broker, subscribing again');
      setTimeout(() => {
        if (this.#stopping || !isChannelOpen(channel)) return;
        this.#subscribe(channel).catch((error: unknown) => {
          this.#log.error({ err: error }, 'resubscribing failed');
        });
      }, RESUBSCRIBE_DELAY_MS);
      return;
    }
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
    const { message } = delivery;
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
    try {
      await this.#handler(parsed.data, {
        correlationId,
        attempt,
        maxAttempts: this.#maxAttempts,
        messageId: typeof messageId === 'string' ? messageId : undefined,
        redelivered: message.fields.redelivered,
        signal: delivery.controller.signal,
        headers: message.properties.headers ?? {},
      });
      return { action: 'ack' };
    } catch (error) {
      const decision = decideFailure(error, attempt, this.#maxAttempts, this.#retryDelaysMs);
      if (decision.action === 'retry') return { ...decision, error };
      return { action: 'dead', reason: decision.reason, ...describeError(error), error };
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
    if (delivery.abandoned) {
      this.#log.warn(
        { ...context, outcome: outcome.action },
        'handler finished after its consumer stopped; message was requeued',
      );
      return;
    }
    if (!isChannelOpen(channel)) {
      this.#log.warn(
        { ...context, outcome: outcome.action },
        'channel closed before the message was settled; the broker will redeliver it',
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
            error: outcome.message,
          };
          if (outcome.reason === 'invalid-json' || outcome.reason === 'schema-invalid') {
            this.#log.warn(fields, 'invalid message dead-lettered');
          } else {
            this.#log.error(fields, 'message dead-lettered');
          }
          break;
        }
      }
      // Only now: the copy in the retry or dead queue is confirmed, so the ack loses nothing.
      channel.ack(message);
    } catch (error) {
      // The copy was not confirmed. Rejecting sends the message to the dead queue through
      // the work queue's dead-letter arguments: nothing is lost and nothing loops.
      this.#log.error(
        { ...context, err: error },
        'settling the message failed, rejecting it to the dead queue',
      );
      this.#safely(channel, () => {
        channel.nack(message, false, false);
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
    await publishConfirmed(
      delivery.channel,
      queue,
      delivery.message.content,
      properties,
      this.#host.publishTimeoutMs,
    );
  }

  #safely(channel: ConfirmChannel, operation: () => void): void {
    if (!isChannelOpen(channel)) return;
    try {
      operation();
    } catch (error) {
      this.#log.warn({ err: error }, 'channel operation failed');
    }
  }

  cancel(options: CancelOptions = {}): Promise<CancelResult> {
    this.#stopped ??= this.#stop(options.timeoutMs ?? this.#stopTimeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<CancelResult> {
    this.#stopping = true;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (subscription !== undefined && isChannelOpen(subscription.channel)) {
      try {
        await subscription.channel.cancel(subscription.consumerTag);
      } catch (error) {
        this.#log.warn({ err: error }, 'basic.cancel failed');
      }
    }
    const drained = await this.#waitForIdle(timeoutMs);
    const abandoned = this.#inFlight.size;
    if (!drained) {
      for (const delivery of this.#inFlight) {
        delivery.abandoned = true;
        delivery.controller.abort(new ConsumerStoppedError(this.queue));
        this.#safely(delivery.channel, () => {
          delivery.channel.nack(delivery.message, false, true);
        });
      }
      this.#log.warn(
        { abandoned, timeoutMs },
        'handlers still running at stop; their messages were requeued',
      );
    }
    await this.#wrapper?.close().catch((error: unknown) => {
      this.#log.warn({ err: error }, 'closing the consumer channel failed');
    });
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

function invalid(error: InvalidMessageError, reason: DeathReason): Outcome {
  return { action: 'dead', reason, code: error.code, message: truncate(error.message) };
}

function errorHeaders(error: { code: string; message: string }): Headers {
  return { [HEADERS.errorCode]: error.code, [HEADERS.errorMessage]: error.message };
}
