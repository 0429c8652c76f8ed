import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureEmail, successEmail, type FailureEmail, type SuccessEmail } from '../src/emails.ts';

const FID = '65a1b2c3d4e5f60718293a4b';
const JOB_ID = '0b4e7a0e-5d1c-4c7e-9a8b-2f6d1e3c4b5a';
const HOSTILE = `<img src=x onerror=alert(1)>"&'.mp4`;
const HOSTILE_ESCAPED = '&lt;img src=x onerror=alert(1)&gt;&quot;&amp;&#39;.mp4';
const SIGNED_URL = `http://mp3converter.com/download?fid=${FID}&expires=1796047500&sig=${'s'.repeat(43)}`;

const success: SuccessEmail = {
  jobId: JOB_ID,
  filename: 'holiday "best" .mp4',
  mp3Filename: 'holiday "best" .mp3',
  fid: FID,
  durationSeconds: 205.4,
  sizeBytes: 4_912_345,
  downloadUrl: SIGNED_URL,
  linkExpiresAt: new Date('2026-11-30T14:05:59.999Z'),
  publicBaseUrl: 'http://mp3converter.com',
};

const failure: FailureEmail = {
  jobId: JOB_ID,
  filename: 'holiday.mp4',
  error: { code: 'NO_AUDIO_TRACK', message: 'the file has no audio track' },
  publicBaseUrl: 'http://mp3converter.com',
};

/** The value of the Duration or Size line of the plain-text body, or undefined without one. */
function textField(text: string, label: string): string | undefined {
  return new RegExp(`^${label}: +(.*)$`, 'm').exec(text)?.[1];
}

/** Every C0/C1 control character and Unicode line or paragraph separator. */
const LINE_BREAKING = /[\p{Cc}\p{Zl}\p{Zp}]/u;

describe('successEmail', () => {
  it('has the original "MP3 Download" subject with the file name after it', () => {
    assert.equal(successEmail(success).subject, 'MP3 Download: holiday "best" .mp4');
  });

  it('says the fid line of the original project in both bodies', () => {
    const email = successEmail(success);
    assert.ok(email.text.includes(`mp3 file_id: ${FID} is now ready!`));
    assert.ok(email.html.includes(`mp3 file_id: ${FID} is now ready!`));
  });

  it('gives the file names, the link and its expiry in UTC, to the minute, never later', () => {
    const { text, html } = successEmail(success);
    for (const body of [text, html]) assert.ok(body.includes('2026-11-30 14:05 UTC'), body);
    assert.ok(text.includes('holiday "best" .mp4'));
    assert.ok(text.includes('holiday "best" .mp3'));
    assert.ok(text.includes(`\n${SIGNED_URL}\n`), 'the link on a line of its own');
    assert.ok(html.includes('holiday &quot;best&quot; .mp4'));
    assert.ok(html.includes('holiday &quot;best&quot; .mp3'));
  });

  for (const publicBaseUrl of ['http://mp3converter.com', 'http://mp3converter.com/']) {
    it(`gives the token commands for after the link expired (base ${publicBaseUrl})`, () => {
      const { text, html } = successEmail({ ...success, publicBaseUrl });
      const login =
        'TOKEN=$(curl -s -X POST -u you@example.com:your-password http://mp3converter.com/login)';
      const curl = `curl -fOJ -H "Authorization: Bearer $TOKEN" "http://mp3converter.com/download?fid=${FID}"`;
      assert.ok(text.includes(login), text);
      assert.ok(text.includes(curl), text);
      assert.ok(html.includes(login));
      assert.ok(html.includes(curl.replaceAll('"', '&quot;')));
    });
  }

  it('keeps a path prefix of the public base URL in the commands', () => {
    const { text } = successEmail({ ...success, publicBaseUrl: 'https://example.com/mp3' });
    assert.ok(text.includes(`"https://example.com/mp3/download?fid=${FID}"`), text);
    assert.ok(text.includes(' https://example.com/mp3/login)'), text);
  });

  for (const [seconds, shown] of [
    [0, '0:00'],
    [9.4, '0:09'],
    [59.6, '1:00'],
    [205, '3:25'],
    [3599.4, '59:59'],
    [3599.5, '1:00:00'],
    [3725, '1:02:05'],
    [36_000, '10:00:00'],
  ] as const) {
    it(`shows a duration of ${seconds} s as ${shown}`, () => {
      const { text, html } = successEmail({ ...success, durationSeconds: seconds });
      assert.equal(textField(text, 'Duration'), shown);
      assert.ok(html.includes(`>${shown}<`));
    });
  }

  for (const [bytes, shown] of [
    [0, '0 bytes'],
    [999, '999 bytes'],
    [1000, '1.0 kB'],
    [4_912_345, '4.9 MB'],
    [999_999, '1.0 MB'],
    [123_456_789, '123.5 MB'],
    [2_147_483_648, '2.1 GB'],
  ] as const) {
    it(`shows a size of ${bytes} bytes as ${shown} (SI units)`, () => {
      const { text, html } = successEmail({ ...success, sizeBytes: bytes });
      assert.equal(textField(text, 'Size'), shown);
      assert.ok(html.includes('>Size<'));
      assert.ok(html.includes(`>${shown}<`));
    });
  }

  it('leaves the size out when it is unknown', () => {
    const absent: SuccessEmail = { ...success };
    delete absent.sizeBytes;
    for (const input of [absent, { ...success, sizeBytes: undefined }]) {
      const { text, html } = successEmail(input);
      assert.equal(textField(text, 'Size'), undefined);
      assert.equal(textField(text, 'Duration'), '3:25');
      assert.ok(!html.includes('>Size<'));
      assert.ok(!/\bundefined\b|\bNaN\b/.test(text + html));
    }
  });

  it('escapes a hostile file name in the HTML and keeps it as text', () => {
    const { text, html } = successEmail({
      ...success,
      filename: HOSTILE,
      mp3Filename: HOSTILE.replace(/\.mp4$/, '.mp3'),
    });
    assert.ok(!html.includes('<img'));
    assert.ok(!html.includes('onerror=alert(1)>'));
    assert.ok(html.includes(HOSTILE_ESCAPED));
    assert.ok(html.includes(HOSTILE_ESCAPED.replace(/\.mp4$/, '.mp3')));
    assert.ok(text.includes(HOSTILE), 'the text body shows the name as it is');
  });

  it('escapes the link inside the href attribute and in the visible text', () => {
    const { html } = successEmail(success);
    const escaped = SIGNED_URL.replaceAll('&', '&amp;');
    assert.ok(html.includes(`href="${escaped}"`), html);
    assert.ok(!html.includes(SIGNED_URL), 'no raw & in the HTML');
    const quoted = successEmail({ ...success, downloadUrl: 'http://x.test/d?a="><script>' }).html;
    assert.ok(quoted.includes('href="http://x.test/d?a=&quot;&gt;&lt;script&gt;"'));
    assert.ok(!quoted.includes('<script'));
  });

  it('is a small self-contained HTML5 document', () => {
    const { html } = successEmail({ ...success, filename: HOSTILE });
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.ok(html.includes('<meta charset="utf-8" />'));
    assert.ok(html.trimEnd().endsWith('</html>'));
    assert.ok(!/<(script|img|link|style|iframe)\b/i.test(html));
    assert.ok(!/\bsrc=["']/.test(html));
  });

  for (const [name, breaker] of [
    ['CR LF', '\r\n'],
    ['LF', '\n'],
    ['CR', '\r'],
    ['a Unicode line separator', '\u2028'],
    ['NUL', '\u0000'],
    ['NEL', '\u0085'],
    ['a tab', '\t'],
  ] as const) {
    it(`never lets ${name} in a file name reach the subject`, () => {
      const filename = `a${breaker}Bcc: victim@example.com${breaker}.mp4`;
      const { subject, text } = successEmail({ ...success, filename });
      assert.ok(!LINE_BREAKING.test(subject), JSON.stringify(subject));
      const spaces = ' '.repeat(breaker.length);
      assert.equal(subject, `MP3 Download: a${spaces}Bcc: victim@example.com${spaces}.mp4`);
      assert.ok(!text.includes(`\nBcc:`), 'no faked line in the text body either');
      assert.ok(!LINE_BREAKING.test(failureEmail({ ...failure, filename }).subject));
    });
  }

  it('cuts a very long file name in the subject with an ellipsis, keeping it whole in the body', () => {
    const filename = `${'é'.repeat(150)}.mp4`;
    const { subject, text } = successEmail({ ...success, filename });
    const name = subject.slice('MP3 Download: '.length);
    assert.equal(Array.from(name).length, 100);
    assert.ok(name.endsWith('…'));
    assert.ok(filename.startsWith(name.slice(0, -1)));
    assert.ok(text.includes(filename));
  });

  it('never splits a surrogate pair when cutting', () => {
    const { subject } = successEmail({ ...success, filename: '🎵'.repeat(120) });
    assert.ok(subject.isWellFormed());
    assert.ok(subject.endsWith(`${'🎵'.repeat(99)}…`));
  });
});

describe('failureEmail', () => {
  it('has the subject "MP3 conversion failed: <file name>"', () => {
    assert.equal(failureEmail(failure).subject, 'MP3 conversion failed: holiday.mp4');
  });

  it('gives the file name, the reason, the job id and how to see the job, in both bodies', () => {
    for (const publicBaseUrl of ['http://mp3converter.com', 'http://mp3converter.com/']) {
      const { text, html } = failureEmail({ ...failure, publicBaseUrl });
      const jobState = `curl -s -H "Authorization: Bearer $TOKEN" http://mp3converter.com/jobs/${JOB_ID}`;
      const login =
        'TOKEN=$(curl -s -X POST -u you@example.com:your-password http://mp3converter.com/login)';
      for (const body of [text, html]) {
        assert.ok(body.includes('holiday.mp4'));
        assert.ok(body.includes('the file has no audio track'));
        assert.ok(body.includes(JOB_ID));
        assert.ok(body.includes(login));
      }
      assert.ok(text.includes(jobState), text);
      assert.ok(html.includes(jobState.replaceAll('"', '&quot;')), html);
    }
  });

  for (const [code, advice] of [
    ['NO_AUDIO_TRACK', /has no sound.*Upload a video that has an audio track/],
    ['NOT_MEDIA', /not a video or audio file.*Export it as MP4/],
    ['EMPTY_FILE', /may be incomplete.*plays on your computer.*upload it again/],
    ['TRUNCATED_MEDIA', /may be incomplete.*plays on your computer.*upload it again/],
    ['CONVERSION_TIMED_OUT', /too long to convert.*shorter/],
    ['VIDEO_MISSING', /no longer stored.*upload it again/],
    ['CONVERSION_UNAVAILABLE', /problem on our side, not with your file.*kept/],
    ['SOMETHING_NEW', /try again.*contact support.*job id/],
    // A code that is a member of every object must still get the general advice.
    ['constructor', /try again.*contact support.*job id/],
  ] as const) {
    it(`advises for ${code}`, () => {
      const { text, html } = failureEmail({
        ...failure,
        error: { code, message: 'it did not work' },
      });
      assert.match(text, advice);
      assert.match(html, advice);
    });
  }

  it('gives each known code its own advice, not the general one', () => {
    const general = failureEmail({ ...failure, error: { code: 'X', message: 'm' } }).text;
    for (const code of ['NO_AUDIO_TRACK', 'NOT_MEDIA', 'CONVERSION_UNAVAILABLE']) {
      const text = failureEmail({ ...failure, error: { code, message: 'm' } }).text;
      assert.ok(!/contact support and quote/.test(text), code);
      assert.notEqual(text, general);
    }
  });

  it('escapes the reason and the file name in the HTML', () => {
    const { html, text } = failureEmail({
      ...failure,
      filename: HOSTILE,
      error: { code: 'NOT_MEDIA', message: 'the <b>file</b> & "more"' },
    });
    assert.ok(html.includes('the &lt;b&gt;file&lt;/b&gt; &amp; &quot;more&quot;'));
    assert.ok(!html.includes('<b>'));
    assert.ok(!html.includes('<img'));
    assert.ok(html.includes(HOSTILE_ESCAPED));
    assert.ok(text.includes('the <b>file</b> & "more"'));
  });
});
