import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnauthorizedError } from '@mp3converter/errors';
import { parseBasicAuthorization, parseBearerAuthorization } from '../src/credentials.ts';

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64');

describe('parseBasicAuthorization', () => {
  it('splits on the first colon and decodes UTF-8', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${b64('zoë@example.com:p:a:ss')}`), {
      email: 'zoë@example.com',
      password: 'p:a:ss',
    });
    assert.deepEqual(parseBasicAuthorization(`basic   ${b64('a@b.c:')}`), {
      email: 'a@b.c',
      password: '',
    });
  });

  for (const header of [
    undefined,
    '',
    'Basic',
    'Basic ',
    'Bearer x',
    `Basic ${b64('nocolon')}`,
    `Basic ${b64(':pw')}`,
    'Basic ab=c',
    'Basic abc',
    `Basic ${b64(Buffer.from([0xc3, 0x28, 0x3a, 0x41]))}`,
    `Basic ${'A'.repeat(4000)}`,
  ]) {
    it(`rejects ${header === undefined ? 'no header' : JSON.stringify(header).slice(0, 40)} with a Basic 401`, () => {
      assert.throws(
        () => parseBasicAuthorization(header),
        (error: unknown) => {
          assert.ok(error instanceof UnauthorizedError);
          assert.equal(error.scheme, 'Basic');
          return true;
        },
      );
    });
  }
});

describe('parseBearerAuthorization', () => {
  it('returns the token', () => {
    assert.equal(parseBearerAuthorization('Bearer a.b.c'), 'a.b.c');
    assert.equal(parseBearerAuthorization('BEARER a-_.b.'), 'a-_.b.');
  });

  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic a.b.c',
    'Bearer a.b',
    'Bearer a.b.c.d',
    'Bearer a b.c',
    'Bearer a.b.c=',
  ]) {
    it(`rejects ${JSON.stringify(header)} with a Bearer 401`, () => {
      assert.throws(
        () => parseBearerAuthorization(header),
        (error: unknown) => {
          assert.ok(error instanceof UnauthorizedError);
          assert.equal(error.scheme, 'Bearer');
          return true;
        },
      );
    });
  }
});
