import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageProperties } from 'amqplib';
import { PermanentError, TransientError } from '@mp3converter/errors';
import {
  HEADERS,
  attemptOf,
  correlationIdOf,
  republishProperties,
  truncate,
} from '../src/headers.ts';
import { decideFailure, describeError } from '../src/retry-policy.ts';
import {
  DEFAULT_RETRY_DELAYS_MS,
  WORK_QUEUE_DELIVERY_LIMIT,
  retryDelayFor,
  topologyDeclarations,
} from '../src/topology.ts';

describe('topologyDeclarations', () => {
  it('names the dead queue and one retry queue per delay after the work queue', () => {
    const declarations = topologyDeclarations({ queue: 'video', retryDelaysMs: [5_000, 30_000] });
    assert.deepEqual(
      declarations.map((declaration) => declaration.name),
      ['video.dead', 'video.retry.5000', 'video.retry.30000', 'video'],
    );
    for (const declaration of declarations) assert.equal(declaration.options.durable, true);
  });

  it('sends expired retry messages back to the work queue and rejected work to the dead queue', () => {
    const byName = new Map(
      topologyDeclarations({ queue: 'mp3', retryDelaysMs: [200] }).map((declaration) => [
        declaration.name,
        declaration.options.arguments,
      ]),
    );
    assert.deepEqual(byName.get('mp3.retry.200'), {
      'x-message-ttl': 200,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'mp3',
    });
    assert.deepEqual(byName.get('mp3'), {
      'x-queue-type': 'quorum',
      'x-delivery-limit': WORK_QUEUE_DELIVERY_LIMIT,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'mp3.dead',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    assert.deepEqual(byName.get('mp3.dead'), {});
  });

  it('uses the default delays and declares a repeated delay once', () => {
    const names = (retryDelaysMs?: number[]) =>
      topologyDeclarations({ queue: 'q', retryDelaysMs })
        .map((declaration) => declaration.name)
        .filter((name) => name.includes('.retry.'));
    assert.deepEqual(
      names(),
      DEFAULT_RETRY_DELAYS_MS.map((delay) => `q.retry.${delay}`),
    );
    assert.deepEqual(names([100, 100]), ['q.retry.100']);
  });

  it('rejects unusable delays and queue names', () => {
    for (const retryDelaysMs of [[], [0], [1.5], [-5], [2 ** 32]]) {
      assert.throws(() => topologyDeclarations({ queue: 'q', retryDelaysMs }), RangeError);
    }
    assert.throws(() => topologyDeclarations({ queue: '' }), RangeError);
    assert.throws(() => topologyDeclarations({ queue: 'amq.video' }), RangeError);
    assert.throws(() => topologyDeclarations({ queue: 'v'.repeat(250) }), RangeError);
  });
});

describe('retryDelayFor', () => {
  it('takes the delay for the failed attempt and repeats the last one', () => {
    const delays = [100, 1_000];
    assert.equal(retryDelayFor(delays, 1), 100);
    assert.equal(retryDelayFor(delays, 2), 1_000);
    assert.equal(retryDelayFor(delays, 7), 1_000);
  });
});

describe('decideFailure', () => {
  const delays = [100, 1_000];

  it('retries a retryable error while attempts remain', () => {
    const error = new TransientError('SMTP_DOWN', 'smtp unavailable');
    assert.deepEqual(decideFailure(error, 1, 3, delays), {
      action: 'retry',
      delayMs: 100,
      nextAttempt: 2,
    });
    assert.deepEqual(decideFailure(error, 2, 3, delays), {
      action: 'retry',
      delayMs: 1_000,
      nextAttempt: 3,
    });
  });

  it('dead-letters a retryable error on the last attempt', () => {
    const error = new TransientError('SMTP_DOWN', 'smtp unavailable');
    assert.deepEqual(decideFailure(error, 3, 3, delays), {
      action: 'dead',
      reason: 'retries-exhausted',
    });
  });

  it('dead-letters a permanent error on the first attempt', () => {
    const error = new PermanentError('NO_AUDIO_TRACK', 'no audio');
    assert.deepEqual(decideFailure(error, 1, 3, delays), {
      action: 'dead',
      reason: 'permanent-error',
    });
  });

  it('retries an unknown error: a fix or a recovered dependency may make it pass', () => {
    assert.equal(decideFailure(new Error('boom'), 1, 3, delays).action, 'retry');
    assert.equal(decideFailure('a string', 1, 3, delays).action, 'retry');
  });
});

describe('describeError', () => {
  it('keeps the code of an application error and gives others a generic one', () => {
    assert.deepEqual(describeError(new PermanentError('NO_AUDIO_TRACK', 'no audio')), {
      code: 'NO_AUDIO_TRACK',
      message: 'no audio',
    });
    assert.deepEqual(describeError(new TypeError('x is undefined')), {
      code: 'UNEXPECTED_ERROR',
      message: 'x is undefined',
    });
    assert.deepEqual(describeError(42), { code: 'UNEXPECTED_ERROR', message: '42' });
  });

  it('truncates long messages so headers stay small', () => {
    const { message } = describeError(new Error('e'.repeat(5_000)));
    assert.equal(message.length, 1_000);
    assert.equal(truncate('short'), 'short');
  });
});

describe('attemptOf', () => {
  it('reads x-attempt and counts anything unusable as the first attempt', () => {
    assert.equal(attemptOf(undefined), 1);
    assert.equal(attemptOf({}), 1);
    assert.equal(attemptOf({ [HEADERS.attempt]: 3 }), 3);
    assert.equal(attemptOf({ [HEADERS.attempt]: '2' }), 2);
    for (const bad of [0, -1, 1.5, 'two', null, Number.NaN]) {
      assert.equal(attemptOf({ [HEADERS.attempt]: bad }), 1, String(bad));
    }
  });
});

function properties(overrides: Partial<MessageProperties> = {}): MessageProperties {
  return {
    contentType: undefined,
    contentEncoding: undefined,
    headers: undefined,
    deliveryMode: undefined,
    priority: undefined,
    correlationId: undefined,
    replyTo: undefined,
    expiration: undefined,
    messageId: undefined,
    timestamp: undefined,
    type: undefined,
    userId: undefined,
    appId: undefined,
    clusterId: undefined,
    ...overrides,
  };
}

describe('correlationIdOf', () => {
  it('prefers the property, falls back to the header, ignores unsafe values', () => {
    assert.equal(correlationIdOf(properties({ correlationId: 'abc' })), 'abc');
    assert.equal(
      correlationIdOf(properties({ headers: { [HEADERS.correlationId]: 'from-header' } })),
      'from-header',
    );
    assert.equal(
      correlationIdOf(
        properties({ correlationId: 'bad id\n', headers: { [HEADERS.correlationId]: 'ok-1' } }),
      ),
      'ok-1',
    );
    assert.equal(correlationIdOf(properties()), undefined);
  });
});

describe('republishProperties', () => {
  it('keeps identity and headers, drops the broker bookkeeping, adds the new headers', () => {
    const result = republishProperties({
      properties: properties({
        contentType: 'application/json',
        messageId: 'm-1',
        timestamp: 1_700_000_000,
        expiration: '1000',
        headers: {
          'x-source': 'gateway',
          'x-death': [],
          'x-first-death-queue': 'video',
          'x-delivery-count': 2,
          [HEADERS.attempt]: 1,
        },
      }),
      correlationId: 'c-1',
      headers: { [HEADERS.attempt]: 2 },
    });
    assert.deepEqual(result, {
      persistent: true,
      contentType: 'application/json',
      contentEncoding: undefined,
      type: undefined,
      appId: undefined,
      timestamp: 1_700_000_000,
      messageId: 'm-1',
      correlationId: 'c-1',
      headers: { 'x-source': 'gateway', [HEADERS.correlationId]: 'c-1', [HEADERS.attempt]: 2 },
    });
  });

  it('gives a message without an id a new one', () => {
    const result = republishProperties({
      properties: properties(),
      correlationId: 'c',
      headers: {},
    });
    assert.match(result.messageId, /^[0-9a-f-]{36}$/);
  });
});
