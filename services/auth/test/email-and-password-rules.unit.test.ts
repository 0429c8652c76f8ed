import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeEmail } from '../src/emails.ts';
import { passwordLengthProblem } from '../src/passwords.ts';

describe('normalizeEmail', () => {
  it('trims and lower-cases, so that every spelling MariaDB matches has one key', () => {
    for (const spelling of [
      'Victim@Example.com',
      'victim@example.com   ',
      '  VICTIM@EXAMPLE.COM',
      '\tvictim@example.com\u00a0',
    ]) {
      assert.equal(normalizeEmail(spelling), 'victim@example.com', JSON.stringify(spelling));
    }
  });

  const unusable: [string, string][] = [
    ['spaces only', '   '],
    ['a space inside', 'victim @example.com'],
    ['a control character', 'victim@example.com\u0000x'],
    ['a zero-width character', 'vic\u200btim@example.com'],
    ['more than 254 characters', `${'a'.repeat(250)}@example.com`],
  ];
  for (const [what, email] of unusable) {
    it(`cannot normalise an email with ${what}`, () => {
      assert.equal(normalizeEmail(email), undefined);
    });
  }
});

describe('passwordLengthProblem', () => {
  it('counts code points, not UTF-16 units', () => {
    assert.equal(passwordLengthProblem('\u{1F600}'.repeat(256)), undefined);
    assert.match(String(passwordLengthProblem('\u{1F600}'.repeat(257))), /at most 256/);
    assert.match(String(passwordLengthProblem('\u{1F600}'.repeat(7))), /at least 8/);
    assert.equal(passwordLengthProblem('p'.repeat(8)), undefined);
  });
});
