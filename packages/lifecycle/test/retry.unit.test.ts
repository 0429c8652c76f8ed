import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { createLogger } from '@mp3converter/logging';
import { retryUntilAvailable } from '../src/index.ts';

const log = createLogger({ service: 'test', level: 'silent' });

describe('retryUntilAvailable', () => {
  it('tries again while the dependency is unavailable, then answers what the work answers', async () => {
    let attempts = 0;
    const result = await retryUntilAvailable(
      { signal: new AbortController().signal, log, dependency: 'db' },
      () => {
        attempts += 1;
        if (attempts === 1) return Promise.reject(new DependencyUnavailableError('db'));
        return Promise.resolve('connected');
      },
    );
    assert.deepEqual([result, attempts], ['connected', 2]);
  });

  it('throws at once an error that does not mean "unavailable"', async () => {
    let attempts = 0;
    const bug = new TypeError('a bug');
    await assert.rejects(
      retryUntilAvailable({ signal: new AbortController().signal, log, dependency: 'db' }, () => {
        attempts += 1;
        return Promise.reject(bug);
      }),
      bug,
    );
    assert.equal(attempts, 1);
  });

  it('takes its own idea of "unavailable"', async () => {
    let attempts = 0;
    const result = await retryUntilAvailable(
      {
        signal: new AbortController().signal,
        log,
        dependency: 'db',
        isUnavailable: (error) => (error as { code?: string }).code === 'ECONNREFUSED',
      },
      () => {
        attempts += 1;
        if (attempts === 1)
          return Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
        return Promise.resolve(attempts);
      },
    );
    assert.equal(result, 2);
  });

  it('answers undefined when stopped during an attempt, without trying again', async () => {
    const stop = new AbortController();
    let attempts = 0;
    const result = await retryUntilAvailable<string>(
      { signal: stop.signal, log, dependency: 'db' },
      () => {
        attempts += 1;
        stop.abort();
        return Promise.reject(new DependencyUnavailableError('db'));
      },
    );
    assert.deepEqual([result, attempts], [undefined, 1]);
  });
});
