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

/** The reason given to a handler's abort signal when its consumer stops without waiting for it. */
export class ConsumerStoppedError extends TransientError {
  override name = 'ConsumerStoppedError';
  constructor(queue: string) {
    super('AMQP_CONSUMER_STOPPED', `the consumer of ${queue} stopped before the handler finished`);
  }
}

/**
 * The handler ran past its consumer's `handlerTimeoutMs`: its signal is aborted with this
 * and the attempt counts as a retryable failure.
 */
export class HandlerTimeoutError extends TransientError {
  override name = 'HandlerTimeoutError';
  constructor(queue: string, timeoutMs: number) {
    super('AMQP_HANDLER_TIMEOUT', `the handler for ${queue} did not finish within ${timeoutMs} ms`);
  }
}

/** The reason given to a handler's abort signal when the channel its message came on closed. */
export class ChannelClosedError extends TransientError {
  override name = 'ChannelClosedError';
  constructor(queue: string) {
    super(
      'AMQP_CHANNEL_CLOSED',
      `the channel of the ${queue} consumer closed; the broker will redeliver the message`,
    );
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
