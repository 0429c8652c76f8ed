import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  createLogger,
  currentCorrelationId,
  sanitizeCorrelationId,
  withCorrelationId,
} from '../src/index.ts';

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('adds the correlation id of the work in hand to every line, across awaits', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'test', level: 'info' }, stream);
    const child = log.child({ module: 'worker' });
    await withCorrelationId('job-42', async () => {
      child.info('started');
      await new Promise((resolve) => setImmediate(resolve));
      child.info({ step: 2 }, 'finished');
    });
    child.info('outside');
    assert.equal(lines.length, 3);
    assert.equal(lines[0]!.correlationId, 'job-42');
    assert.equal(lines[1]!.correlationId, 'job-42');
    assert.equal(lines[1]!.module, 'worker');
    assert.equal(lines[1]!.service, 'test');
    assert.equal(lines[1]!.level, 'info');
    assert.equal(lines[2]!.correlationId, undefined);
    assert.equal(currentCorrelationId(), undefined);
  });

  it('redacts passwords and authorization headers', () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'test', level: 'info' }, stream);
    log.info({ password: 'hunter2', req: { headers: { authorization: 'Bearer x' } } }, 'request');
    assert.equal(lines[0]!.password, '[redacted]');
    assert.deepEqual(lines[0]!.req, { headers: { authorization: '[redacted]' } });
  });
});

describe('sanitizeCorrelationId', () => {
  it('accepts short safe ids and refuses anything else', () => {
    assert.equal(sanitizeCorrelationId('abc-123_x.y:z'), 'abc-123_x.y:z');
    for (const bad of [undefined, '', 'a b', 'x'.repeat(129), 'line\nbreak', '<script>', 42]) {
      assert.equal(sanitizeCorrelationId(bad), undefined);
    }
  });
});
