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

describe('the web page’s messages', () => {
  it('tells a busy server from one that is down, with when to try again from Retry-After', () => {
    const busy = { status: 503, problem: { code: 'TOO_MANY_UPLOADS' }, retryAfterSeconds: 5 };
    assert.equal(
      describeProblem(busy, 'upload', limits),
      'The server is busy with other uploads. Try again in 5 seconds.',
    );
    const down = {
      status: 503,
      problem: { code: 'DEPENDENCY_UNAVAILABLE' },
      retryAfterSeconds: 600,
    };
    assert.equal(
      describeProblem(down, 'list', limits),
      'The service is unavailable for the moment. Try again in 10 minutes.',
    );
    // A proxy's own 502 page: no problem document, the status alone.
    assert.match(
      describeProblem({ status: 502, problem: {}, retryAfterSeconds: undefined }, 'list', limits),
      /unavailable for the moment\. Try again in a moment\.$/,
    );
  });

  it('tells wrong credentials at sign-in from an ended session elsewhere', () => {
    assert.equal(
      describeProblem(
        { status: 401, problem: { code: 'INVALID_CREDENTIALS' }, retryAfterSeconds: undefined },
        'sign-in',
        limits,
      ),
      'Wrong email or password.',
    );
    assert.equal(
      describeProblem(
        { status: 401, problem: { code: 'TOKEN_EXPIRED' }, retryAfterSeconds: undefined },
        'upload',
        limits,
      ),
      'Your session has expired. Sign in again.',
    );
    assert.equal(
      describeProblem(
        { status: 429, problem: { code: 'TOO_MANY_REQUESTS' }, retryAfterSeconds: 900 },
        'sign-in',
        limits,
      ),
      'Too many failed attempts to sign in. Try again in 15 minutes.',
    );
  });

  it('names the upload limit, the fields at fault, and the request id of a server failure', () => {
    assert.equal(
      describeProblem(
        { status: 413, problem: { code: 'FILE_TOO_LARGE' }, retryAfterSeconds: undefined },
        'upload',
        limits,
      ),
      'The file is too large: the limit is 2.0 GiB.',
    );
    const invalid = {
      status: 400,
      problem: {
        code: 'VALIDATION_FAILED',
        errors: [{ path: 'password', message: 'at least 8 characters' }],
      },
      retryAfterSeconds: undefined,
    };
    assert.equal(
      describeProblem(invalid, 'register', limits),
      'Check what you entered: password: at least 8 characters.',
    );
    assert.match(
      describeProblem(
        {
          status: 500,
          problem: { code: 'INTERNAL', requestId: 'req-42' },
          retryAfterSeconds: undefined,
        },
        'delete',
        limits,
      ),
      /\(request req-42\)/,
    );
    // No answer at all.
    assert.match(
      describeProblem({ status: 0, problem: {}, retryAfterSeconds: undefined }, 'upload', limits),
      /^The upload was cut off/,
    );
    // Anything else: the server's own words.
    assert.equal(
      describeProblem(
        {
          status: 400,
          problem: { code: 'NO_FILE', detail: 'no file in the form' },
          retryAfterSeconds: undefined,
        },
        'upload',
        limits,
      ),
      'no file in the form',
    );
  });

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
