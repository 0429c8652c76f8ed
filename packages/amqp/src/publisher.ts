import { randomUUID } from 'node:crypto';
import type { ChannelWrapper } from 'amqp-connection-manager';
import {
  currentCorrelationId,
  newCorrelationId,
  sanitizeCorrelationId,
} from '@mp3converter/logging';
import type { ConfirmChannel } from 'amqplib';
import { errorText, takeReturned } from './confirm-channel.ts';
import { PublishFailedError, PublishTimeoutError, UnroutableMessageError } from './errors.ts';
import { HEADERS, type Headers } from './headers.ts';

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

export interface PublisherState {
  closed(): boolean;
  /**
   * The raw channel the wrapper publishes on now. A message unconfirmed at a
   * reconnect is sent again on the new one, so that is where its return lands.
   */
  channel(): ConfirmChannel | undefined;
}

/**
 * Publishes JSON messages as persistent and resolves only once the broker has
 * confirmed them into a queue. While disconnected, amqp-connection-manager holds
 * messages in memory and sends them after reconnecting; the timeout bounds that
 * wait, so a caller learns of an unreachable broker instead of hanging.
 */
export class Publisher {
  readonly #channel: ChannelWrapper;
  readonly #state: PublisherState;
  readonly #timeoutMs: number;

  constructor(channel: ChannelWrapper, state: PublisherState, timeoutMs: number) {
    this.#channel = channel;
    this.#state = state;
    this.#timeoutMs = timeoutMs;
  }

  async publish(
    queue: string,
    message: unknown,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const correlationId = resolveCorrelationId(options.correlationId);
    const messageId = options.messageId ?? randomUUID();
    const json = JSON.stringify(message) as string | undefined;
    if (json === undefined) throw new TypeError('the message cannot be encoded as JSON');
    if (this.#state.closed()) throw new PublishFailedError(queue, 'the connection is closed');
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    try {
      await this.#channel.sendToQueue(queue, Buffer.from(json), {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        messageId,
        timestamp: Math.floor(Date.now() / 1000),
        correlationId,
        headers: { ...options.headers, [HEADERS.correlationId]: correlationId },
        timeout: timeoutMs,
      });
    } catch (error) {
      // amqp-connection-manager rejects with a bare Error('timeout') when no confirm came in time.
      if (error instanceof Error && error.message === 'timeout') {
        throw new PublishTimeoutError(queue, timeoutMs, { cause: error });
      }
      throw new PublishFailedError(queue, errorText(error), { cause: error });
    }
    const channel = this.#state.channel();
    if (channel !== undefined && takeReturned(channel, messageId)) {
      throw new UnroutableMessageError(queue);
    }
    return { messageId, correlationId };
  }
}

function resolveCorrelationId(given: string | undefined): string {
  if (given === undefined) return currentCorrelationId() ?? newCorrelationId();
  const correlationId = sanitizeCorrelationId(given);
  if (correlationId === undefined) {
    throw new TypeError('a correlation id is 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return correlationId;
}
