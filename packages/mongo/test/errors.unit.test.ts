import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AppError, DependencyUnavailableError } from '@mp3converter/errors';
import {
  MongoClientClosedError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoOperationTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoTopologyClosedError,
} from 'mongodb';

import { isDuplicateKeyError, isMongoUnavailable, mongoError } from '../src/index.ts';

describe('mongoError', () => {
  it('maps network, timeout, closed-client and shutting-down errors to DependencyUnavailableError', () => {
    const unavailable = [
      new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'),
      new MongoNetworkTimeoutError('connection timed out'),
      new MongoOperationTimeoutError('Timed out after 1000ms'),
      new MongoTopologyClosedError(),
      new MongoClientClosedError(),
      new MongoServerError({ message: 'shutdown in progress', code: 91 }),
      new MongoServerError({ message: 'not primary', code: 10107 }),
    ];
    for (const error of unavailable) {
      assert.equal(isMongoUnavailable(error), true, error.name);
      const mapped = mongoError(error);
      assert.ok(mapped instanceof DependencyUnavailableError, error.name);
      assert.equal(mapped.dependency, 'mongodb');
      assert.equal(mapped.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(mapped.status, 503);
      assert.equal(mapped.retryable, true);
      assert.equal(mapped.cause, error);
      assert.ok(!mapped.message.includes('127.0.0.1'), 'no driver detail in the message');
    }
  });

  it('leaves refusals by the server and every other error untouched', () => {
    const others = [
      new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 }),
      new MongoServerError({ message: 'unauthorized', code: 13 }),
      new MongoParseError('Invalid scheme'),
      new AppError('SOMETHING', 'something', 400, false),
      new Error('plain'),
      'a string',
      undefined,
    ];
    for (const error of others) {
      assert.equal(isMongoUnavailable(error), false, String(error));
      assert.equal(mongoError(error), error);
    }
  });
});

describe('isDuplicateKeyError', () => {
  it('recognises code 11000 and nothing else', () => {
    assert.equal(
      isDuplicateKeyError(new MongoServerError({ message: 'E11000', code: 11000 })),
      true,
    );
    assert.equal(isDuplicateKeyError(new MongoServerError({ message: 'other', code: 2 })), false);
    assert.equal(isDuplicateKeyError(Object.assign(new Error('E11000'), { code: 11000 })), false);
  });
});
