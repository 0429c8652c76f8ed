import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import {
  currentCorrelationId,
  newCorrelationId,
  sanitizeCorrelationId,
} from '@mp3converter/logging';
import type { ManagedChannel } from './channel.ts';
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

/**
 * The one way this package publishes: persistent, `mandatory` (see ManagedChannel), and
 * resolved only once the broker confirmed the message into a queue. While disconnected, amqp-connection-manager
 * holds messages and sends them after reconnecting; its `publishTimeout` bounds that wait,
 * so a caller learns of an unreachable broker instead of hanging.
 */
export class Publisher {
  readonly #channel: ManagedChannel;
  readonly #timeoutMs: number;
  readonly #isClosed: () => boolean;

  /** `timeoutMs` must be the `publishTimeout` the channel was created with. */
  constructor(channel: ManagedChannel, timeoutMs: number, isClosed: () => boolean) {
    this.#channel = channel;
    this.#timeoutMs = timeoutMs;
    this.#isClosed = isClosed;
  }

  /** Publishes `message` as JSON. */
  async publish(
    queue: string,
    message: unknown,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const correlationId = resolveCorrelationId(options.correlationId);
    const messageId = options.messageId ?? randomUUID();
    const json = JSON.stringify(message) as string | undefined;
    if (json === undefined) throw new TypeError('the message cannot be encoded as JSON');
    await this.send(
      queue,
      Buffer.from(json),
      {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        messageId,
        timestamp: Math.floor(Date.now() / 1000),
        correlationId,
        headers: { ...options.headers, [HEADERS.correlationId]: correlationId },
      },
      options.timeoutMs,
    );
    return { messageId, correlationId };
  }

  /** Sends raw content with the given properties (a consumer's retry or dead-letter copy). */
  async send(
    queue: string,
    content: Buffer,
    properties: Options.Publish & { messageId: string },
    timeoutMs?: number,
  ): Promise<void> {
    if (this.#isClosed()) throw new PublishFailedError(queue, 'the connection is closed');
    const timeout = timeoutMs ?? this.#timeoutMs;
    try {
      await this.#channel.sendToQueue(queue, content, { ...properties, persistent: true }, timeout);
    } catch (error) {
      if (error instanceof UnroutableMessageError) throw error;
      // amqp-connection-manager's only sign of its publishTimeout is a bare Error('timeout').
      if (error instanceof Error && error.message === 'timeout') {
        throw new PublishTimeoutError(queue, timeout, { cause: error });
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new PublishFailedError(queue, reason, { cause: error });
    }
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
