import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ObjectId } from 'mongodb';
import { downloadUrl, signDownload } from '@mp3converter/download-links';
import { rawRequest } from '@mp3converter/testkit';
import { ADMIN } from '@mp3converter/auth/testing';
import { convertJob, uploadVideo, type StoredMp3File } from './fake-converter.ts';
import type { GatewayClient } from './api-client.ts';
import { LINK_SECRET, bearer, signUp, startTestSystem, type TestSystem } from './support.ts';

let system: TestSystem;
let ownerToken: string;
let otherToken: string;
/** The API as the owner of the MP3s below, and as an admin. */
let owner: GatewayClient;
let admin: GatewayClient;
let ownerJobId: string;
/** The owner's video: a file in the other bucket, not an MP3. */
let ownerVideoFid: string;
/** The owner's MP3: 300 000 bytes, more than one GridFS chunk (255 KiB). */
let mp3: StoredMp3File;
/** Another user's MP3. */
let otherMp3: StoredMp3File;

before(async () => {
  system = await startTestSystem();
  ({ token: ownerToken } = await signUp(system.url));
  ({ token: otherToken } = await signUp(system.url));
  owner = system.api.as(ownerToken);
  admin = system.api.as((await system.api.login(ADMIN)).body);

  ({ jobId: ownerJobId, videoFid: ownerVideoFid } = await uploadVideo(system, ownerToken, {
    filename: 'holiday.mp4',
  }));
  mp3 = await convertJob(system, ownerJobId);
  const other = await uploadVideo(system, otherToken, { filename: 'other.mkv' });
  otherMp3 = await convertJob(system, other.jobId);
});

after(async () => {
  await system.stop();
});

function download(query: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${system.url}/download?${query}`, { headers });
}

function fidQuery(fid: string): string {
  return new URLSearchParams({ fid }).toString();
}

async function bodyBytes(response: Response): Promise<Buffer> {
  return Buffer.from(await response.arrayBuffer());
}

interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
}

async function problem(response: Response): Promise<Problem> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const { status, code, title, detail } = (await response.json()) as Problem;
  return { status, code, title, detail };
}

/**
 * Content-Disposition parsed strictly (RFC 6266): the type, then `; name=value` parameters
 * whose values are tokens or quoted strings. Anything left over fails the test, so a quote
 * that ends a value early shows up as a parse failure.
 */
function parseContentDisposition(header: string): { type: string; params: Map<string, string> } {
  const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
  const start = new RegExp(`^(${token})`).exec(header);
  assert.ok(start, `a disposition type in ${header}`);
  const params = new Map<string, string>();
  const param = new RegExp(`^;[ \\t]*(${token})=(?:(${token})|"((?:[^"\\\\]|\\\\.)*)")[ \\t]*`);
  let rest = header.slice(start[0].length).trimStart();
  while (rest !== '') {
    const match = param.exec(rest);
    assert.ok(match, `a parameter at ${JSON.stringify(rest)} in ${header}`);
    const [whole, name = '', plain, quoted] = match;
    assert.ok(!params.has(name.toLowerCase()), `${name} given twice`);
    params.set(name.toLowerCase(), plain ?? (quoted ?? '').replace(/\\(.)/g, '$1'));
    rest = rest.slice(whole.length);
  }
  return { type: start[1]!.toLowerCase(), params };
}

/** The file name a client takes from Content-Disposition: `filename*` first, else `filename`. */
function dispositionName(header: string): string {
  const { type, params } = parseContentDisposition(header);
  assert.equal(type, 'attachment');
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const match = /^UTF-8''(.+)$/i.exec(extended);
    assert.ok(match, `filename* is UTF-8 encoded: ${extended}`);
    return decodeURIComponent(match[1]!);
  }
  const plain = params.get('filename');
  assert.ok(plain !== undefined, `a filename in ${header}`);
  return plain;
}

describe('GET /download with a token', () => {
  it('sends the owner their MP3 with its size, type, validator and name', async () => {
    const { headers, body } = await owner.download(mp3.fid);
    assert.equal(headers.get('content-type'), 'audio/mpeg');
    assert.equal(headers.get('content-length'), String(mp3.bytes.length));
    assert.equal(headers.get('accept-ranges'), 'bytes');
    assert.equal(headers.get('etag'), `"${mp3.fid}"`);
    assert.equal(dispositionName(headers.get('content-disposition') ?? ''), 'holiday.mp3');
    assert.ok(body.equals(mp3.bytes));
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await fetch(`${system.url}/download?${fidQuery(mp3.fid)}`, {
      method: 'HEAD',
      headers: bearer(ownerToken),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(mp3.bytes.length));
    assert.equal((await bodyBytes(response)).length, 0);
  });

  it("lets an admin download another user's MP3", async () => {
    const { body } = await admin.download(mp3.fid);
    assert.ok(body.equals(mp3.bytes));
  });

  it('answers 400 FID_REQUIRED without a fid', async () => {
    for (const query of ['', 'fid=']) {
      const response = await download(query, bearer(ownerToken));
      assert.equal(response.status, 400, query);
      assert.equal((await problem(response)).code, 'FID_REQUIRED');
    }
  });

  it('answers 401 without a token or a signature', async () => {
    const response = await owner.download(mp3.fid, { token: null, expectedStatus: 401 });
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(response.body.code, 'TOKEN_REQUIRED');
  });

  it("answers one and the same 404 for someone else's MP3 and for unknown or malformed fids", async () => {
    const cases: [string, string, string][] = [
      ["another user's MP3", fidQuery(otherMp3.fid), ownerToken],
      ['the owner asking for the other way round', fidQuery(mp3.fid), otherToken],
      ['a random ObjectId', fidQuery(new ObjectId().toHexString()), ownerToken],
      ['a short fid', fidQuery('abc'), ownerToken],
      ['a path', fidQuery('../x'), ownerToken],
      ['24 characters, not hex', fidQuery('zzzzzzzzzzzzzzzzzzzzzzzz'), ownerToken],
      ['a fid given twice', `${fidQuery(mp3.fid)}&${fidQuery(mp3.fid)}`, ownerToken],
      ["the owner's video fid", fidQuery(ownerVideoFid), ownerToken],
    ];
    const problems: Problem[] = [];
    for (const [what, query, token] of cases) {
      const response = await download(query, bearer(token));
      assert.equal(response.status, 404, what);
      assert.equal(response.headers.get('content-disposition'), null, what);
      problems.push(await problem(response));
    }
    assert.equal(problems[0]?.code, 'FILE_NOT_FOUND');
    for (const [index, found] of problems.entries()) {
      assert.deepEqual(found, problems[0], cases[index]?.[0]);
    }
  });
});

describe('GET /download with a Range', () => {
  const size = (): number => mp3.bytes.length;

  async function assertPartial(range: string, start: number, end: number): Promise<void> {
    const { headers, body } = await owner.download(mp3.fid, {
      headers: { range },
      expectedStatus: 206,
    });
    assert.equal(headers.get('content-range'), `bytes ${start}-${end - 1}/${size()}`);
    assert.equal(headers.get('content-length'), String(end - start), range);
    assert.equal(headers.get('content-type'), 'audio/mpeg', range);
    assert.ok(body.equals(mp3.bytes.subarray(start, end)), range);
  }

  it('sends the first byte for bytes=0-0', async () => {
    await assertPartial('bytes=0-0', 0, 1);
  });

  it('sends the last 100 bytes for bytes=-100', async () => {
    await assertPartial('bytes=-100', size() - 100, size());
  });

  it('sends the rest of the file for an open-ended range', async () => {
    await assertPartial('bytes=100-', 100, size());
  });

  it('sends a range across a GridFS chunk boundary', async () => {
    await assertPartial('bytes=261000-261300', 261_000, 261_301);
  });

  it('clamps a range that ends past the file', async () => {
    await assertPartial(`bytes=${size() - 10}-${size() + 1000}`, size() - 10, size());
  });

  it('answers 416 with the size for a range starting at the end', async () => {
    const { headers, body } = await owner.download(mp3.fid, {
      headers: { range: `bytes=${size()}-` },
      expectedStatus: 416,
    });
    assert.equal(headers.get('content-range'), `bytes */${size()}`);
    assert.equal(headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(headers.get('content-disposition'), null);
    assert.equal(body.code, 'RANGE_NOT_SATISFIABLE');
  });

  it('sends the whole file for a malformed or multiple range', async () => {
    for (const range of ['bytes=abc', 'bytes=5-1', 'pages=0-1', 'bytes=0-1,5-6', 'bytes=-']) {
      const { headers, body } = await owner.download(mp3.fid, { headers: { range } });
      assert.equal(headers.get('content-range'), null, range);
      assert.ok(body.equals(mp3.bytes), range);
    }
  });

  it('sends the whole file when If-Range does not match the ETag', async () => {
    const { body } = await owner.download(mp3.fid, {
      headers: { range: 'bytes=0-0', 'if-range': '"someone-elses-etag"' },
    });
    assert.equal(body.length, size());
  });

  it('answers 304 to If-None-Match with the ETag', async () => {
    const first = await owner.download(mp3.fid);
    const etag = first.headers.get('etag');
    assert.ok(etag);
    // fetch() adds Cache-Control: no-cache to conditional requests, which asks for the body.
    const response = await rawRequest(`${system.url}/download?${fidQuery(mp3.fid)}`, {
      headers: { ...bearer(ownerToken), 'if-none-match': etag },
    });
    assert.equal(response.status, 304);
    assert.equal(response.headers.etag, etag);
    assert.equal(response.body, '');
  });
});

describe('GET /download file names', () => {
  it('sends a name with quotes, unicode and a path as a safe Content-Disposition', async () => {
    const sent = '../..\\evil "quoted" café ünï 音楽 €.mov';
    const expected = 'evil "quoted" café ünï 音楽 €.mp3';
    // FormData would send the quotes as %22; curl sends them backslash-escaped, as here.
    const boundary = `----mp3test${randomBytes(8).toString('hex')}`;
    const quotedName = sent.replace(/[\\"]/g, '\\$&');
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\n` +
          `Content-Disposition: form-data; name="file"; filename="${quotedName}"\r\n` +
          'Content-Type: video/quicktime\r\n\r\n',
        'utf8',
      ),
      randomBytes(1_000),
      Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
    ]);
    const uploaded = await fetch(`${system.url}/upload`, {
      method: 'POST',
      headers: {
        ...bearer(ownerToken),
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
    });
    assert.equal(uploaded.status, 202, await uploaded.clone().text());
    const { jobId } = (await uploaded.json()) as { jobId: string };
    assert.equal((await owner.getJob(jobId)).body.filename, expected.replace(/\.mp3$/, '.mov'));
    const stored = await convertJob(system, jobId);

    const response = await owner.download(stored.fid);
    const header = response.headers.get('content-disposition');
    assert.ok(header !== null);
    assert.doesNotMatch(header, /[\r\n]/);
    const { params } = parseContentDisposition(header);
    // The plain name is for old clients: ASCII only and no path in it.
    const fallback = params.get('filename');
    assert.ok(fallback !== undefined);
    assert.match(fallback, /^[\x20-\x7e]+$/);
    assert.doesNotMatch(fallback, /[/\\]/);
    assert.match(params.get('filename*') ?? '', /^UTF-8''/);
    assert.equal(dispositionName(header), expected);
  });

  it('sends a latin-1 name as UTF-8 in filename*', async () => {
    const { jobId } = await uploadVideo(system, ownerToken, { filename: 'Café Müller.webm' });
    const stored = await convertJob(system, jobId);
    const response = await owner.download(stored.fid);
    const header = response.headers.get('content-disposition') ?? '';
    // Raw latin-1 bytes in a header are read as UTF-8 by some clients: ASCII only.
    assert.match(header, /^[\x20-\x7e]+$/);
    assert.equal(dispositionName(header), 'Café Müller.mp3');
  });
});

describe('GET /download with a signed link', () => {
  let link: string;

  before(async () => {
    const { body: view } = await owner.getJob(ownerJobId);
    assert.equal(typeof view.downloadUrl, 'string');
    link = view.downloadUrl as string;
  });

  function withParam(name: string, value: string | undefined): string {
    const url = new URL(link, system.url);
    if (value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
    return url.toString();
  }

  async function assertNotFound(url: string, what: string): Promise<void> {
    const response = await fetch(url);
    assert.equal(response.status, 404, what);
    assert.equal((await problem(response)).code, 'FILE_NOT_FOUND', what);
  }

  it("downloads the job's MP3 without a token", async () => {
    const url = new URL(link, system.url);
    assert.equal(url.pathname, '/download');
    assert.equal(url.searchParams.get('fid'), mp3.fid);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'audio/mpeg');
    assert.ok((await bodyBytes(response)).equals(mp3.bytes));
  });

  it('serves ranges on a signed link', async () => {
    const response = await fetch(new URL(link, system.url), { headers: { range: 'bytes=0-9' } });
    assert.equal(response.status, 206);
    assert.ok((await bodyBytes(response)).equals(mp3.bytes.subarray(0, 10)));
  });

  it('refuses the link with another fid', async () => {
    await assertNotFound(withParam('fid', otherMp3.fid), 'swapped fid');
  });

  it('refuses a tampered signature', async () => {
    const sig = new URL(link, system.url).searchParams.get('sig') ?? '';
    // A character in the middle: all its bits count (the last one's low bits are padding).
    const tampered = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    await assertNotFound(withParam('sig', tampered), 'tampered sig');
    await assertNotFound(withParam('sig', 'x'), 'short sig');
  });

  it('refuses a later expiry than the one signed', async () => {
    const expires = Number(new URL(link, system.url).searchParams.get('expires'));
    await assertNotFound(withParam('expires', String(expires + 3600)), 'extended expiry');
  });

  it('refuses an expired link', async () => {
    const expired = signDownload(LINK_SECRET, mp3.fid, 1, new Date(Date.now() - 10_000));
    await assertNotFound(new URL(downloadUrl(expired), system.url).toString(), 'expired');
  });

  it('refuses a link with only one of expires and sig', async () => {
    await assertNotFound(withParam('sig', undefined), 'expires without sig');
    await assertNotFound(withParam('expires', undefined), 'sig without expires');
  });

  it('refuses a link signed with another secret', async () => {
    const forged = signDownload('another-secret-that-is-at-least-32-bytes', mp3.fid, 600);
    await assertNotFound(new URL(downloadUrl(forged), system.url).toString(), 'forged');
  });
});
