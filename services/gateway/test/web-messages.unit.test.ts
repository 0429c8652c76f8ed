// The page's words for the API's answers (services/gateway/web/assets/messages.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeProblem,
  formatBytes,
  jobStatusText,
  optionsText,
  retryText,
} from '../web/assets/messages.js';

const limits = { maxUploadBytes: 2 * 1024 ** 3 };

type Case = [
  what: string,
  status: number,
  problem: Parameters<typeof describeProblem>[0]['problem'],
  retryAfterSeconds: number | undefined,
  action: Parameters<typeof describeProblem>[1],
  expected: string | RegExp,
];

const cases: Case[] = [
  [
    'busy, with Retry-After',
    503,
    { code: 'TOO_MANY_UPLOADS' },
    5,
    'upload',
    'The server is busy with other uploads. Try again in 5 seconds.',
  ],
  [
    'a dependency down for long',
    503,
    { code: 'DEPENDENCY_UNAVAILABLE' },
    600,
    'list',
    'The service is unavailable for the moment. Try again in 10 minutes.',
  ],
  [
    "a proxy's own 502 page, no problem document",
    502,
    {},
    undefined,
    'list',
    /unavailable for the moment\. Try again in a moment\.$/,
  ],
  [
    'wrong credentials at sign-in',
    401,
    { code: 'INVALID_CREDENTIALS' },
    undefined,
    'sign-in',
    'Wrong email or password.',
  ],
  [
    'a token past its time',
    401,
    { code: 'TOKEN_EXPIRED' },
    undefined,
    'upload',
    'Your session has expired. Sign in again.',
  ],
  ['a 401 of unknown code', 401, {}, undefined, 'delete', 'You are not signed in. Sign in again.'],
  [
    'locked out',
    429,
    { code: 'TOO_MANY_REQUESTS' },
    900,
    'sign-in',
    'Too many failed attempts to sign in. Try again in 15 minutes.',
  ],
  [
    'too large',
    413,
    { code: 'FILE_TOO_LARGE' },
    undefined,
    'upload',
    'The file is too large: the limit is 2.0 GiB.',
  ],
  [
    'fields at fault',
    400,
    { code: 'VALIDATION_FAILED', errors: [{ path: 'password', message: 'at least 8 characters' }] },
    undefined,
    'register',
    'Check what you entered: password: at least 8 characters.',
  ],
  [
    'a server failure names its request id',
    500,
    { code: 'INTERNAL', requestId: 'req-42' },
    undefined,
    'delete',
    /\(request req-42\)/,
  ],
  ['no answer at all, uploading', 0, {}, undefined, 'upload', /^The upload was cut off/],
  ['no answer at all, following the list', 0, {}, undefined, 'list', /this page keeps trying\.$/],
  [
    "anything else: the server's own words",
    400,
    { code: 'NO_FILE', detail: 'no file in the form' },
    undefined,
    'upload',
    'no file in the form',
  ],
];

describe('the web page’s messages', () => {
  for (const [what, status, problem, retryAfterSeconds, action, expected] of cases) {
    it(`says in words: ${what}`, () => {
      const text = describeProblem({ status, problem, retryAfterSeconds }, action, limits);
      if (typeof expected === 'string') assert.equal(text, expected);
      else assert.match(text, expected);
    });
  }

  it('writes sizes, waits, options and states in words', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(300 * 1024 ** 2), '300 MiB');
    assert.equal(retryText(undefined), 'in a moment');
    assert.equal(retryText(30), 'in 30 seconds');
    assert.equal(optionsText({ bitrate: 320 }), '320 kbit/s');
    assert.equal(optionsText({ quality: 0 }), 'VBR quality 0');
    const job = {
      jobId: 'j',
      filename: 'a.mp4',
      options: { bitrate: 192 },
      videoSize: 1,
      createdAt: '2026-01-01T00:00:00Z',
    };
    assert.equal(
      jobStatusText({ ...job, status: 'converting', progress: 42.7 }),
      'Converting: 42 %',
    );
    assert.equal(
      jobStatusText({ ...job, status: 'done', progress: 100, durationSeconds: 3725 }),
      'Done: 1:02:05',
    );
    assert.equal(
      jobStatusText({ ...job, status: 'queued', progress: 0 }),
      'Waiting for a converter',
    );
  });
});
