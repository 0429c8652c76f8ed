import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { JOB_TRANSITIONS, type JobMoves } from '../src/index.ts';

describe('JOB_TRANSITIONS', () => {
  it('lists the life of a job: claimed, taken over, ended, and claimed again only when failed on our side', () => {
    const table: Record<string, JobMoves> = JOB_TRANSITIONS;
    const moves = Object.entries(table).flatMap(([mover, { from, to }]) =>
      from.map((source) => ({ mover, from: source.status, when: source.when, to })),
    );
    assert.deepEqual(moves, [
      { mover: 'claim', from: 'queued', when: undefined, to: 'converting' },
      { mover: 'claim', from: 'converting', when: undefined, to: 'converting' },
      { mover: 'claim', from: 'failed', when: { 'error.retryable': true }, to: 'converting' },
      { mover: 'completeConversion', from: 'converting', when: undefined, to: 'done' },
      { mover: 'failConversion', from: 'converting', when: undefined, to: 'failed' },
    ]);
  });
});
