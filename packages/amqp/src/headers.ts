import { randomUUID } from 'node:crypto';
import type { MessageProperties, Options } from 'amqplib';
import {
  currentCorrelationId,
  newCorrelationId,
  sanitizeCorrelationId,
} from '@mp3converter/logging';

/** Message headers this package reads and writes. */
export const HEADERS = {
  correlationId: 'x-correlation-id',
  /** 1-based number of the delivery attempt the message is on (absent means 1). */
  attempt: 'x-attempt',
  /** Set on dead-lettered messages: see DeathReason. */
  deathReason: 'x-death-reason',
  /** Stable code and message of the last failure (also set on retried messages). */
  errorCode: 'x-error-code',
  errorMessage: 'x-error-message',
  /** The work queue a dead or retried message came from. */
  originalQueue: 'x-original-queue',
  /** ISO time at which the message was dead-lettered. */
  deadLetteredAt: 'x-dead-lettered-at',
  /** True on a copy handed back at shutdown: a handler worked on it before (redelivered). */
  handedBack: 'x-handed-back',
} as const;

export type DeathReason =
  'invalid-json' | 'schema-invalid' | 'permanent-error' | 'retries-exhausted';

export type Headers = Record<string, unknown>;

// Headers the broker writes when it dead-letters; copying them onto a new
// message would make the broker's own bookkeeping lie.
const BROKER_HEADERS = /^x-(death$|first-death-|last-death-|delivery-count$)/;

const MAX_HEADER_TEXT = 1_000;

export function truncate(text: string, max = MAX_HEADER_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The attempt a delivery is on, from `x-attempt`; anything unusable counts as the first. */
export function attemptOf(headers: Headers | undefined): number {
  const raw = headers?.[HEADERS.attempt];
  const value = typeof raw === 'string' ? Number(raw) : raw;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : 1;
}

/** The correlation id a message carries (property first, then header), if it is safe to use. */
export function correlationIdOf(
  properties: Pick<MessageProperties, 'correlationId' | 'headers'>,
): string | undefined {
  return (
    sanitizeCorrelationId(properties.correlationId) ??
    sanitizeCorrelationId(properties.headers?.[HEADERS.correlationId])
  );
}

export interface RepublishInput {
  properties: MessageProperties;
  correlationId: string;
  headers: Headers;
}

/**
 * Properties for a copy of a consumed message sent to a retry or dead queue: the
 * original's identity and headers are kept, broker-written headers are dropped,
 * `headers` are added on top.
 */
export function republishProperties(
  input: RepublishInput,
): Options.Publish & { messageId: string } {
  const { properties } = input;
  const kept: Headers = {};
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (!BROKER_HEADERS.test(name)) kept[name] = value;
  }
  const optional = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  return {
    persistent: true,
    contentType: optional(properties.contentType),
    contentEncoding: optional(properties.contentEncoding),
    type: optional(properties.type),
    appId: optional(properties.appId),
    timestamp: typeof properties.timestamp === 'number' ? properties.timestamp : undefined,
    messageId: optional(properties.messageId) ?? randomUUID(),
    correlationId: input.correlationId,
    headers: { ...kept, [HEADERS.correlationId]: input.correlationId, ...input.headers },
  };
}

/** A given correlation id if it is safe in headers and logs; else that of the work in hand, or a new one. */
export function resolveCorrelationId(given: string | undefined): string {
  if (given === undefined) return currentCorrelationId() ?? newCorrelationId();
  const correlationId = sanitizeCorrelationId(given);
  if (correlationId === undefined) {
    throw new TypeError('a correlation id is 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return correlationId;
}
