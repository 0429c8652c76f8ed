import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest, waitFor } from '@mp3converter/testkit';
import { LogCapture, startTestAuth, type TestAuth } from './support.ts';

const capture = new LogCapture();
let auth: TestAuth;

before(async () => {
  auth = await startTestAuth({}, undefined, { logTo: capture });
});
after(async () => {
  await auth.stop();
});

interface AccessLine {
  msg: string;
  req?: { method: string; url: string };
}

function accessLines(): AccessLine[] {
  return capture.lines
    .map((line) => JSON.parse(line) as AccessLine)
    .filter((entry) => entry.msg === 'request completed');
}

describe('access log', () => {
  it('does not write a token sent in the query string', async () => {
    const secret = 'c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw';
    const token = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.${secret}`;
    const before = accessLines().length;
    for (const query of [`token=${token}`, `x=1&access_token=${token}`, token]) {
      await rawRequest(`${auth.url}/validate?${query}`, { method: 'POST' });
    }
    await waitFor(() => accessLines().length >= before + 3, { what: 'three access log lines' });

    const logged = accessLines().slice(before);
    assert.deepEqual(
      logged.map((entry) => entry.req?.url.split('?')[0]),
      ['/validate', '/validate', '/validate'],
    );
    const everything = capture.lines.join('\n');
    assert.ok(!everything.includes(secret), 'the token is not in any log line');
  });
});
