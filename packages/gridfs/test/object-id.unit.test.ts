import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ObjectId } from 'mongodb';

import { parseObjectId } from '../src/object-id.ts';

describe('parseObjectId', () => {
  it('parses 24 hex digits in either case', () => {
    const id = new ObjectId();
    assert.ok(parseObjectId(id.toHexString())?.equals(id));
    assert.ok(parseObjectId(id.toHexString().toUpperCase())?.equals(id));
  });

  it('returns undefined for anything else, without throwing', () => {
    const garbage: unknown[] = [
      '',
      'abc',
      'aaaaaaaaaaaa', // 12 characters: ObjectId.isValid accepts it
      '0123456789abcdef0123456', // 23
      '0123456789abcdef012345678', // 25
      '0123456789abcdef0123456g',
      ' 0123456789abcdef01234567',
      '0123456789abcdef01234567\n',
      '../../../etc/passwd',
      { $ne: null },
      ['0123456789abcdef01234567'],
      123,
      null,
      undefined,
      new ObjectId(),
    ];
    for (const value of garbage) assert.equal(parseObjectId(value), undefined, String(value));
  });
});
