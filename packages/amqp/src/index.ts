/**
 * RabbitMQ for the services: one managed connection, declared topology (work,
 * retry and dead queues), confirmed publishing, and a consumer wrapper that owns
 * ack, retry and dead-lettering so handlers only return or throw.
 */
export {
  AmqpConnection,
  connectAmqp,
  describeBroker,
  type ConnectOptions,
  type PublishOptions,
  type PublishResult,
} from './connection.ts';
export type {
  CancelResult,
  ConsumeOptions,
  Consumer,
  MessageContext,
  MessageHandler,
} from './consumer.ts';
export {
  DEFAULT_RETRY_DELAYS_MS,
  WORK_QUEUE_DELIVERY_LIMIT,
  deadQueueName,
  declareTopology,
  retryQueueName,
  topologyDeclarations,
  type QueueDeclaration,
  type QueueTopology,
} from './topology.ts';
export { HEADERS, type DeathReason } from './headers.ts';
export { decideFailure, type FailureDecision } from './retry-policy.ts';
export {
  HandlerAbortedError,
  type AbortReason,
  InvalidMessageError,
  PublishFailedError,
  PublishTimeoutError,
  TopologyError,
  UnroutableMessageError,
} from './errors.ts';
