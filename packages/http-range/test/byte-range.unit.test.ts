import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatContentRange, requestedRange } from '../src/index.ts';

const size = 1000;

describe('requestedRange', () => {
  it('turns bytes=a-b into a range with an exclusive end', () => {
    assert.deepEqual(requestedRange('bytes=0-499', size), {
      kind: 'range',
      range: { start: 0, end: 500 },
    });
    assert.deepEqual(requestedRange('bytes=999-999', size), {
      kind: 'range',
      range: { start: 999, end: 1000 },
    });
  });

  it('clamps a last byte past the end of the file', () => {
    assert.deepEqual(requestedRange('bytes=500-5000', size), {
      kind: 'range',
      range: { start: 500, end: 1000 },
    });
    assert.deepEqual(requestedRange(`bytes=0-${'9'.repeat(40)}`, size), {
      kind: 'range',
      range: { start: 0, end: 1000 },
    });
  });

  it('reads bytes=a- as from a to the end, and bytes=-n as the last n bytes, or the whole file when n is larger', () => {
    assert.deepEqual(requestedRange('bytes=990-', size), {
      kind: 'range',
      range: { start: 990, end: 1000 },
    });
    assert.deepEqual(requestedRange('bytes=-1', size), {
      kind: 'range',
      range: { start: 999, end: 1000 },
    });
    for (const header of ['bytes=-1000', 'bytes=-5000', `bytes=-${'9'.repeat(40)}`]) {
      assert.deepEqual(
        requestedRange(header, size),
        { kind: 'range', range: { start: 0, end: 1000 } },
        header,
      );
    }
  });

  it('accepts any case of the unit and blanks around the range', () => {
    assert.deepEqual(requestedRange(' Bytes= 1-2 ', size), {
      kind: 'range',
      range: { start: 1, end: 3 },
    });
  });

  it('reports a range of bytes the file does not have as unsatisfiable', () => {
    for (const header of ['bytes=1000-', 'bytes=1000-2000', `bytes=${'9'.repeat(40)}-`]) {
      assert.deepEqual(requestedRange(header, size), { kind: 'unsatisfiable' }, header);
    }
    assert.deepEqual(requestedRange('bytes=-0', size), { kind: 'unsatisfiable' });
    for (const header of ['bytes=0-', 'bytes=0-0', 'bytes=-10']) {
      assert.deepEqual(requestedRange(header, 0), { kind: 'unsatisfiable' }, header);
    }
  });

  it('ignores malformed headers, inverted ranges, other units and several ranges', () => {
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
      'bytes=0-1,2000-3000',
      'bytes=5-1,0-1',
      'items=0-1',
      'items=2000-',
      'bytes 0-1',
      'bytes=0x10-',
    ];
    for (const header of headers) {
      assert.deepEqual(requestedRange(header, size), { kind: 'ignored' }, header);
    }
  });
});

describe('formatContentRange', () => {
  it('writes the inclusive last byte for a 206 and the star form for a 416', () => {
    assert.equal(formatContentRange({ start: 0, end: 500 }, size), 'bytes 0-499/1000');
    assert.equal(formatContentRange(undefined, size), 'bytes */1000');
  });
});
