import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlight } from '../src/in-flight.ts';

describe('InFlight', () => {
  it('passes results and errors through, and forgets work once it settles', async () => {
    const inFlight = new InFlight();
    assert.equal(await inFlight.run(() => 42), 42);
    await assert.rejects(
      inFlight.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(inFlight.size, 0);
  });

  it('waits for running work, failed work included, but no longer than the limit', async () => {
    const inFlight = new InFlight();
    let finish!: () => void;
    const slow = inFlight.run(() => new Promise<void>((resolve) => (finish = resolve)));
    void inFlight.run(() => Promise.reject(new Error('ignored'))).catch(() => undefined);
    const started = performance.now();
    await inFlight.settled(50);
    assert.ok(performance.now() - started >= 45, 'gave up at the limit');
    assert.equal(inFlight.size, 1);
    finish();
    await inFlight.settled(60_000);
    await slow;
    assert.equal(inFlight.size, 0);
  });
});
