import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { databaseError } from '../src/database.ts';

describe('databaseError', () => {
  it("maps mysql2's pool overload, which carries no code, to DependencyUnavailableError", () => {
    // What mysql2's pool.getConnection() gives when its wait queue is full.
    const overload = new Error('Queue limit reached.');
    const mapped = databaseError(overload);
    assert.ok(mapped instanceof DependencyUnavailableError, String(mapped));
    assert.equal(mapped.cause, overload);
  });

  it('leaves an SQL error as it is', () => {
    const sqlError = Object.assign(new Error('Duplicate entry'), {
      code: 'ER_DUP_ENTRY',
      sqlState: '23000',
    });
    assert.equal(databaseError(sqlError), sqlError);
  });
});
