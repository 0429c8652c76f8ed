import {
  AppError,
  PermanentError,
  TransientError,
  type AppErrorOptions,
} from '@mp3converter/errors';

/** The broker did not confirm a message in time (unreachable, blocked or overloaded). */
export class PublishTimeoutError extends TransientError {
  override name = 'PublishTimeoutError';
  readonly queue: string;
  constructor(queue: string, timeoutMs: number, options?: AppErrorOptions) {
    super(
      'AMQP_PUBLISH_TIMEOUT',
      `the broker did not confirm a message to ${queue} within ${timeoutMs} ms`,
      options,
    );
    this.queue = queue;
  }
}

/** The broker refused the message (nack) or the channel closed before it was confirmed. */
export class PublishFailedError extends TransientError {
  override name = 'PublishFailedError';
  readonly queue: string;
  constructor(queue: string, reason: string, options?: AppErrorOptions) {
    super('AMQP_PUBLISH_FAILED', `publishing to ${queue} failed: ${reason}`, options);
    this.queue = queue;
  }
}

/**
 * The broker confirmed the message but had no queue to put it in: the queue is
 * missing. Without `mandatory` such a message would be dropped silently.
 */
export class UnroutableMessageError extends TransientError {
  override name = 'UnroutableMessageError';
  readonly queue: string;
  constructor(queue: string, options?: AppErrorOptions) {
    super('AMQP_UNROUTABLE', `no queue named ${queue} took the message`, options);
    this.queue = queue;
  }
}

/**
 * Not a message the consumer can ever handle (codes MESSAGE_NOT_JSON,
 * MESSAGE_SCHEMA_INVALID): it is dead-lettered at once.
 */
export class InvalidMessageError extends PermanentError {
  override name = 'InvalidMessageError';
}

export type AbortReason = 'AMQP_HANDLER_TIMEOUT' | 'AMQP_CHANNEL_CLOSED' | 'AMQP_CONSUMER_STOPPED';

const ABORT_TEXT: Record<AbortReason, string> = {
  AMQP_HANDLER_TIMEOUT: 'the handler ran past its time limit; the message is retried',
  AMQP_CHANNEL_CLOSED: 'the channel closed; the broker redelivers the message',
  AMQP_CONSUMER_STOPPED:
    'the consumer stopped before the handler finished; the message is requeued',
};

/**
 * The reason a handler's signal is aborted: it ran past `handlerTimeoutMs` (the attempt
 * counts as a retryable failure), its channel closed, or its consumer stopped waiting.
 */
export class HandlerAbortedError extends TransientError {
  override name = 'HandlerAbortedError';
  declare readonly code: AbortReason;
  constructor(code: AbortReason, queue: string) {
    super(code, `${queue}: ${ABORT_TEXT[code]}`);
  }
}

/**
 * The broker refused to declare a queue or to let us consume it, typically a
 * queue that exists with other arguments (PRECONDITION_FAILED). Retrying does
 * not help: the configuration or the broker has to change.
 */
export class TopologyError extends AppError {
  override name = 'TopologyError';
  readonly queue: string | undefined;
  constructor(message: string, queue?: string, options?: AppErrorOptions) {
    super('AMQP_TOPOLOGY_FAILED', message, 500, false, options);
    this.queue = queue;
  }
}
