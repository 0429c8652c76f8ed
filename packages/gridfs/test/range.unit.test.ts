import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatContentRange, parseRangeHeader } from '../src/range.ts';

const size = 1000;

describe('parseRangeHeader', () => {
  it('turns bytes=a-b into a range with an exclusive end', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-499', size), {
      kind: 'range',
      range: { start: 0, end: 500 },
    });
    assert.deepEqual(parseRangeHeader('bytes=999-999', size), {
      kind: 'range',
      range: { start: 999, end: 1000 },
    });
  });

  it('clamps a last byte past the end of the file', () => {
    assert.deepEqual(parseRangeHeader('bytes=500-5000', size), {
      kind: 'range',
      range: { start: 500, end: 1000 },
    });
    assert.deepEqual(parseRangeHeader(`bytes=0-${'9'.repeat(40)}`, size), {
      kind: 'range',
      range: { start: 0, end: 1000 },
    });
  });

  it('reads bytes=a- as from a to the end', () => {
    assert.deepEqual(parseRangeHeader('bytes=990-', size), {
      kind: 'range',
      range: { start: 990, end: 1000 },
    });
  });

  it('reads bytes=-n as the last n bytes, or the whole file when n is larger', () => {
    assert.deepEqual(parseRangeHeader('bytes=-1', size), {
      kind: 'range',
      range: { start: 999, end: 1000 },
    });
    assert.deepEqual(parseRangeHeader('bytes=-5000', size), {
      kind: 'range',
      range: { start: 0, end: 1000 },
    });
  });

  it('accepts any case of the unit and blanks around the range', () => {
    assert.deepEqual(parseRangeHeader(' Bytes= 1-2 ', size), {
      kind: 'range',
      range: { start: 1, end: 3 },
    });
  });

  it('reports a start at or past the end of the file as unsatisfiable', () => {
    for (const header of ['bytes=1000-', 'bytes=1000-2000', `bytes=${'9'.repeat(40)}-`]) {
      assert.deepEqual(parseRangeHeader(header, size), { kind: 'unsatisfiable' }, header);
    }
  });

  it('reports an empty suffix, or any range of an empty file, as unsatisfiable', () => {
    assert.deepEqual(parseRangeHeader('bytes=-0', size), { kind: 'unsatisfiable' });
    for (const header of ['bytes=0-', 'bytes=0-0', 'bytes=-10']) {
      assert.deepEqual(parseRangeHeader(header, 0), { kind: 'unsatisfiable' }, header);
    }
  });

  it('reports malformed headers, other units and several ranges as invalid', () => {
    const headers = [
      '',
      'bytes',
      'bytes=',
      'bytes=-',
      'bytes=5-1',
      'bytes=a-b',
      'bytes=1.5-2',
      'bytes=+1-2',
      'bytes=-1-2',
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes 0-1',
      'bytes=0x10-',
    ];
    for (const header of headers) {
      assert.deepEqual(parseRangeHeader(header, size), { kind: 'invalid' }, header);
    }
  });

  it('refuses a size that is not a non-negative integer', () => {
    assert.throws(() => parseRangeHeader('bytes=0-1', -1), RangeError);
    assert.throws(() => parseRangeHeader('bytes=0-1', 1.5), RangeError);
    assert.throws(() => parseRangeHeader('bytes=0-1', Number.NaN), RangeError);
  });
});

describe('formatContentRange', () => {
  it('writes the inclusive last byte for a 206 and the star form for a 416', () => {
    assert.equal(formatContentRange({ start: 0, end: 500 }, size), 'bytes 0-499/1000');
    assert.equal(formatContentRange(undefined, size), 'bytes */1000');
  });
});
