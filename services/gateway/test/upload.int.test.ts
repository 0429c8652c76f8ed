import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { ObjectId, type GridFSFile } from 'mongodb';
import { VIDEO_QUEUE, videoMessageSchema } from '@mp3converter/contracts';
import { JOBS_COLLECTION, JobStore } from '@mp3converter/jobs';
import { rawRequest, waitFor, type RawResponse } from '@mp3converter/testkit';
import type { Answer, GatewayClient, Problem } from './api-client.ts';
import { bearer, signUp, startTestSystem, videoForm, type TestSystem } from './support.ts';

const MiB = 1024 * 1024;
const BOUNDARY = '----mp3converter-test-boundary-7MA4YWxkTrZu0gW';

let system: TestSystem;
let token: string;
/** The API as the user of `token`. */
let api: GatewayClient;
let inspection: ChannelModel;
let channel: Channel;

before(async () => {
  system = await startTestSystem();
  ({ token } = await signUp(system.url));
  api = system.api.as(token);
  inspection = await amqplib.connect(system.vhost.amqpUrl);
  channel = await inspection.createChannel();
});

after(async () => {
  await inspection.close();
  await system.stop();
});

// ---------------------------------------------------------------------------------------
// Looking behind the API

interface Leftovers {
  files: number;
  chunks: number;
  jobs: number;
  messages: number;
}

async function leftovers(): Promise<Leftovers> {
  const [files, chunks, jobs, queue] = await Promise.all([
    system.videos.collection('fs.files').countDocuments(),
    system.videos.collection('fs.chunks').countDocuments(),
    system.jobsDb.collection(JOBS_COLLECTION).countDocuments(),
    channel.checkQueue(VIDEO_QUEUE),
  ]);
  return { files, chunks, jobs, messages: queue.messageCount };
}

const NOTHING: Leftovers = { files: 0, chunks: 0, jobs: 0, messages: 0 };

async function assertNothingLeft(): Promise<void> {
  assert.deepEqual(await leftovers(), NOTHING, 'no video, chunk, job or message may remain');
}

/** Every test starts from empty buckets, no jobs and an empty queue. */
async function clean(): Promise<void> {
  await Promise.all([
    system.videos.collection('fs.files').deleteMany({}),
    system.videos.collection('fs.chunks').deleteMany({}),
    system.jobsDb.collection(JOBS_COLLECTION).deleteMany({}),
    channel.purgeQueue(VIDEO_QUEUE),
  ]);
}

async function takeVideoMessage(): Promise<unknown> {
  const message = await channel.get(VIDEO_QUEUE, { noAck: true });
  if (message === false) assert.fail('no message on queue video');
  return JSON.parse(message.content.toString('utf8'));
}

/** The value of uploads_total{outcome} in GET /metrics. */
async function uploadsTotal(outcome: string): Promise<number> {
  const text = await (await fetch(`${system.url}/metrics`)).text();
  const match = new RegExp(`^uploads_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(match, `uploads_total{outcome="${outcome}"} in /metrics`);
  return Number(match[1]);
}

// ---------------------------------------------------------------------------------------
// Requests

interface ProblemBody {
  code: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/** Asserts the answer is a problem document with this status and code, and returns it. */
async function expectProblem(
  response: Response | RawResponse,
  status: number,
  code: string,
): Promise<ProblemBody> {
  const text = response instanceof Response ? await response.text() : response.body;
  assert.equal(response.status, status, text);
  const type =
    response instanceof Response
      ? response.headers.get('content-type')
      : String(response.headers['content-type']);
  assert.match(type ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(text) as ProblemBody;
  assert.equal(problem.status, status);
  assert.equal(problem.code, code, text);
  return problem;
}

/** Asserts the problem the client got (its status and type asserted) has its status and `code`. */
function assertProblem({ status, body }: Answer<Problem>, code: string): Problem {
  assert.equal(body.status, status);
  assert.equal(body.code, code, JSON.stringify(body));
  return body;
}

/** One part of a hand-written multipart body: its header lines and its content. */
interface Part {
  headers: string[];
  content: Buffer | string;
}

function field(name: string, value: string): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"`], content: value };
}

function file(content: Buffer, disposition = 'form-data; name="file"; filename="clip.mp4"'): Part {
  return {
    headers: [`Content-Disposition: ${disposition}`, 'Content-Type: video/mp4'],
    content,
  };
}

/** The parts' framing up to (not including) the content of the last part. */
function partHead(part: Part): Buffer {
  return Buffer.from(`--${BOUNDARY}\r\n${part.headers.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** A complete multipart/form-data body, byte for byte as given (curl -F puts parts in order). */
function multipart(parts: Part[]): Buffer {
  return Buffer.concat([
    ...parts.flatMap((part) => [partHead(part), Buffer.from(part.content), Buffer.from('\r\n')]),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
}

const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

function rawUpload(body: Buffer): Promise<RawResponse> {
  return rawRequest(`${system.url}/upload`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': MULTIPART_TYPE },
    body,
  });
}

/** What became of a request that was sent only in part: an answer, or the connection's end. */
type PartialOutcome =
  | { kind: 'response'; status: number; headers: RawResponse['headers']; body: string }
  | { kind: 'closed'; error?: Error };

/**
 * Starts an upload that declares `declaredLength` bytes of body (chunked when undefined),
 * writes only `head`, and leaves the request open: the test decides what comes next.
 */
function startPartialUpload(
  head: Buffer,
  declaredLength: number | undefined,
): { req: ClientRequest; outcome: Promise<PartialOutcome> } {
  const req = request(`${system.url}/upload`, {
    method: 'POST',
    headers: {
      ...bearer(token),
      'content-type': MULTIPART_TYPE,
      ...(declaredLength === undefined
        ? { 'transfer-encoding': 'chunked' }
        : { 'content-length': String(declaredLength) }),
    },
  });
  const outcome = new Promise<PartialOutcome>((resolve) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          kind: 'response',
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', (error) => {
        resolve({ kind: 'closed', error });
      });
    });
    req.on('error', (error) => {
      resolve({ kind: 'closed', error });
    });
    req.on('close', () => {
      resolve({ kind: 'closed' });
    });
  });
  req.write(head);
  return { req, outcome };
}

/** Sends `body` with Transfer-Encoding: chunked, so the server cannot know its size in advance. */
async function chunkedUpload(body: Buffer): Promise<RawResponse> {
  const { req, outcome } = startPartialUpload(Buffer.alloc(0), undefined);
  for (let offset = 0; offset < body.length; offset += 64 * 1024) {
    req.write(body.subarray(offset, offset + 64 * 1024));
  }
  req.end();
  const result = await outcome;
  if (result.kind !== 'response') throw result.error ?? new Error('closed without an answer');
  return {
    status: result.status,
    headers: result.headers,
    body: result.body,
    json: <T>() => JSON.parse(result.body) as T,
  };
}

/**
 * Sends an upload with `Expect: 100-continue`, as curl does for files over 1 MiB: the body is
 * written only if the server answers "100 Continue". Answers the final status and whether the
 * body was sent.
 */
function expectContinueUpload(
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; bodySent: boolean }> {
  return new Promise((resolve, reject) => {
    let bodySent = false;
    const req = request(`${system.url}/upload`, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': MULTIPART_TYPE,
        'content-length': String(body.length),
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      bodySent = true;
      req.end(body);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, bodySent });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

async function chunkCount(): Promise<number> {
  return system.videos.collection('fs.chunks').countDocuments();
}

// ---------------------------------------------------------------------------------------

describe('POST /upload', () => {
  beforeEach(clean);

  it('stores the file, creates a queued job and publishes its video message', async () => {
    const content = randomBytes(700_000);
    const { headers, body } = await api.upload(videoForm(content, { fields: { bitrate: '128' } }));
    assert.equal(body.status, 'queued');
    assert.equal(typeof body.jobId, 'string');
    assert.equal(headers.get('location'), `/jobs/${body.jobId}`);
    assert.deepEqual(body.options, { bitrate: 128 });

    const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
    assert.ok(stored?.metadata);
    assert.equal(stored._id.toHexString(), body.videoFid);
    assert.equal(stored.length, content.length);
    assert.equal(stored.metadata.sha256, createHash('sha256').update(content).digest('hex'));
    assert.equal(stored.metadata.original_name, 'clip.mp4');
    assert.equal(stored.metadata.contentType, 'video/mp4');
    assert.equal(stored.metadata.job_id, body.jobId);

    const message = videoMessageSchema.parse(await takeVideoMessage());
    assert.equal(message.job_id, body.jobId);
    assert.equal(message.video_fid, body.videoFid);
    assert.deepEqual(message.options, { bitrate_kbps: 128 });

    const { body: view } = await api.getJob(body.jobId);
    assert.equal(view.status, 'queued');
    assert.equal(view.videoSize, content.length);
  });

  for (const quality of [0, 4, 9]) {
    it(`takes quality=${quality} as LAME VBR quality instead of a bitrate`, async () => {
      const { body } = await api.upload(
        videoForm(randomBytes(10_000), { fields: { quality: String(quality) } }),
      );
      assert.deepEqual(body.options, { quality });
      const message = videoMessageSchema.parse(await takeVideoMessage());
      assert.equal(message.job_id, body.jobId);
      assert.deepEqual(message.options, { vbr_quality: quality });
    });
  }

  it('uses the default bitrate when the form gives neither bitrate nor quality', async () => {
    const { body } = await api.upload(videoForm(randomBytes(10_000)));
    assert.deepEqual(body.options, { bitrate: 192 });
    assert.deepEqual(videoMessageSchema.parse(await takeVideoMessage()).options, {
      bitrate_kbps: 192,
    });
  });

  it('reads option fields that come after the file in the body', async () => {
    const content = randomBytes(300_000);
    const response = await rawUpload(multipart([file(content), field('quality', '3')]));
    assert.equal(response.status, 202, response.body);
    const body = response.json<Record<string, unknown>>();
    assert.deepEqual(body.options, { quality: 3 });
    assert.deepEqual(videoMessageSchema.parse(await takeVideoMessage()).options, {
      vbr_quality: 3,
    });
    const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
    assert.equal(stored?.length, content.length);
  });

  const invalidOptions: [string, Record<string, string>, string][] = [
    ['a bitrate LAME does not offer', { bitrate: '100' }, 'bitrate'],
    ['a bitrate that is not a number', { bitrate: 'abc' }, 'bitrate'],
    ['an empty bitrate', { bitrate: '' }, 'bitrate'],
    ['quality 10', { quality: '10' }, 'quality'],
    ['quality -1', { quality: '-1' }, 'quality'],
    ['quality x', { quality: 'x' }, 'quality'],
    ['quality 4.5', { quality: '4.5' }, 'quality'],
    ['both bitrate and quality', { bitrate: '128', quality: '2' }, 'quality'],
  ];
  for (const [what, fields, path] of invalidOptions) {
    it(`refuses ${what} with 400 VALIDATION_FAILED and keeps nothing`, async () => {
      const response = await api.upload(videoForm(randomBytes(600_000), { fields }), {
        expectedStatus: 400,
      });
      const problem = assertProblem(response, 'VALIDATION_FAILED');
      assert.ok(
        problem.errors?.some((error) => error.path === path),
        `an error for ${path}: ${JSON.stringify(problem.errors)}`,
      );
      await assertNothingLeft();
    });
  }

  it('refuses an invalid option placed after the file and keeps nothing', async () => {
    // Two chunks' worth, so the file is stored before the bad field is even read.
    const response = await rawUpload(
      multipart([file(randomBytes(600_000)), field('bitrate', '100')]),
    );
    await expectProblem(response, 400, 'VALIDATION_FAILED');
    await assertNothingLeft();
  });

  it('refuses two files with 400 TOO_MANY_FILES and keeps neither', async () => {
    const response = await rawUpload(
      multipart([
        file(randomBytes(600_000)),
        file(randomBytes(600_000), 'form-data; name="second"; filename="two.mp4"'),
      ]),
    );
    await expectProblem(response, 400, 'TOO_MANY_FILES');
    await assertNothingLeft();
  });

  it('refuses a form without a file with 400 NO_FILE', async () => {
    const response = await rawUpload(multipart([field('bitrate', '128')]));
    await expectProblem(response, 400, 'NO_FILE');
    await assertNothingLeft();
  });

  it('refuses a body that is not multipart with 400 NOT_MULTIPART', async () => {
    const response = await fetch(`${system.url}/upload`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ file: 'not really' }),
    });
    await expectProblem(response, 400, 'NOT_MULTIPART');
    await assertNothingLeft();
  });

  it('refuses an empty file with 400 EMPTY_FILE', async () => {
    assertProblem(
      await api.upload(videoForm(new Uint8Array(0)), { expectedStatus: 400 }),
      'EMPTY_FILE',
    );
    await assertNothingLeft();
  });

  it('stores a hostile file name without path parts or control characters', async () => {
    // filename* (RFC 5987) carries the name byte for byte: quotes, CR LF, a path, NFD accents.
    const hostile = '../"evil"\r\nname \u0075\u0308n\u00efc\u00f8d\u00e9\u202e.mp4';
    const disposition = `form-data; name="file"; filename*=utf-8''${encodeURIComponent(hostile)}`;
    const response = await rawUpload(multipart([file(randomBytes(1000), disposition)]));
    assert.equal(response.status, 202, response.body);
    const body = response.json<{ jobId: string; filename: string }>();
    const expected = '"evil"name ünïcødé.mp4';
    assert.equal(body.filename, expected);

    assert.equal((await api.getJob(body.jobId)).body.filename, expected);
    const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
    assert.equal(stored?.filename, expected);
    assert.equal(stored.metadata?.original_name, expected);
    assert.equal(videoMessageSchema.parse(await takeVideoMessage()).filename, expected);
  });

  const names: [string, string, string][] = [
    ['a quoted UTF-8 name', 'filename="ünïcødé clip.mp4"', 'ünïcødé clip.mp4'],
    ['a Windows path', 'filename="C:\\\\Users\\\\me\\\\clip.mp4"', 'clip.mp4'],
    ['a name that is only a path', "filename*=utf-8''..%2F..%2F", 'video'],
    ['a name of control characters', "filename*=utf-8''%00%1B%7F", 'video'],
  ];
  for (const [what, parameter, expected] of names) {
    it(`stores ${what} as ${JSON.stringify(expected)}`, async () => {
      const response = await rawUpload(
        multipart([file(randomBytes(1000), `form-data; name="file"; ${parameter}`)]),
      );
      assert.equal(response.status, 202, response.body);
      assert.equal(response.json<{ filename: string }>().filename, expected);
      const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
      assert.equal(stored?.metadata?.original_name, expected);
    });
  }

  it('answers 401 with a Bearer challenge to a request without a token', async () => {
    const response = await api.upload(videoForm(randomBytes(1000)), {
      token: null,
      expectedStatus: 401,
    });
    assertProblem(response, 'TOKEN_REQUIRED');
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    await assertNothingLeft();
  });

  it('answers Expect: 100-continue only once the token is good, so a refused upload sends no body', async () => {
    const body = multipart([file(randomBytes(200_000))]);
    assert.deepEqual(await expectContinueUpload(body, bearer('not.a.token')), {
      status: 401,
      bodySent: false,
    });
    assert.deepEqual(await expectContinueUpload(body, {}), { status: 401, bodySent: false });
    assert.deepEqual(await expectContinueUpload(body, bearer(token)), {
      status: 202,
      bodySent: true,
    });
    const { files, jobs, messages } = await leftovers();
    assert.deepEqual({ files, jobs, messages }, { files: 1, jobs: 1, messages: 1 });
  });

  it('answers 401 to a client that sends a large body without waiting (no reset instead of the answer)', async () => {
    // fetch() does not use Expect: 100-continue: it is still sending when the answer comes.
    for (let i = 0; i < 3; i += 1) {
      const response = await api.upload(videoForm(new Uint8Array(10_000_000)), {
        token: null,
        expectedStatus: 401,
      });
      assertProblem(response, 'TOKEN_REQUIRED');
    }
    await assertNothingLeft();
  });

  it('answers 401 to a token auth does not vouch for', async () => {
    const response = await api.upload(videoForm(randomBytes(1000)), {
      token: 'not.a.token',
      expectedStatus: 401,
    });
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    await assertNothingLeft();
  });
});

describe('POST /upload: size limit, clients that go away or stall', () => {
  before(async () => {
    await system.restartGateway({ MAX_UPLOAD_BYTES: String(MiB), UPLOAD_IDLE_TIMEOUT_MS: '500' });
  });
  after(async () => {
    await system.restartGateway();
  });
  beforeEach(clean);

  it('refuses a file over the limit with 413 FILE_TOO_LARGE and keeps nothing', async () => {
    const response = await api.upload(videoForm(randomBytes(1.5 * MiB)), { expectedStatus: 413 });
    const problem = assertProblem(response, 'FILE_TOO_LARGE');
    assert.match(problem.detail, /1048576 bytes/);
    await assertNothingLeft();
  });

  it('stops a chunked upload at the limit with 413 and removes what was stored', async () => {
    // No Content-Length: the limit can only be found while the file streams into GridFS.
    const rejectedBefore = await uploadsTotal('rejected');
    const response = await chunkedUpload(multipart([file(randomBytes(1.5 * MiB))]));
    await expectProblem(response, 413, 'FILE_TOO_LARGE');
    // Removed before the answer, not some time after it.
    await assertNothingLeft();
    assert.equal(await uploadsTotal('rejected'), rejectedBefore + 1);
  });

  it('refuses a file one byte over the limit', async () => {
    // Within the allowance for multipart framing, so only the streamed count can catch it.
    const response = await rawUpload(multipart([file(randomBytes(MiB + 1))]));
    await expectProblem(response, 413, 'FILE_TOO_LARGE');
    await assertNothingLeft();
  });

  it('takes a file of exactly the limit', async () => {
    await api.upload(videoForm(randomBytes(MiB)));
    assert.equal((await leftovers()).files, 1);
  });

  it('refuses at once a request whose Content-Length is far above the limit', async () => {
    const started = performance.now();
    const { req, outcome } = startPartialUpload(partHead(file(Buffer.alloc(0))), 10 * 1024 * MiB);
    const result = await outcome;
    const elapsedMs = performance.now() - started;
    req.destroy();
    assert.equal(result.kind, 'response');
    assert.equal(result.status, 413);
    assert.equal((JSON.parse(result.body) as ProblemBody).code, 'FILE_TOO_LARGE');
    assert.ok(elapsedMs < 2_000, `answered after ${Math.round(elapsedMs)} ms`);
    await assertNothingLeft();
  });

  it('removes the partial file of a client that disconnects mid-upload', async () => {
    const abortedBefore = await uploadsTotal('aborted');
    const head = Buffer.concat([partHead(file(Buffer.alloc(0))), randomBytes(700_000)]);
    const { req, outcome } = startPartialUpload(head, head.length + 300_000);
    // Some of the file is in GridFS before the client goes.
    await waitFor(async () => (await chunkCount()) > 0, { what: 'chunks being written' });
    req.destroy();
    assert.equal((await outcome).kind, 'closed');
    await waitFor(async () => (await uploadsTotal('aborted')) === abortedBefore + 1, {
      what: 'the upload counted as aborted',
    });
    await waitFor(async () => (await chunkCount()) === 0, { what: 'the chunks removed' });
    await assertNothingLeft();
  });

  it('cuts off a stalled upload and removes its partial file', async () => {
    const head = Buffer.concat([partHead(file(Buffer.alloc(0))), randomBytes(700_000)]);
    const { req, outcome } = startPartialUpload(head, head.length + 300_000);
    await waitFor(async () => (await chunkCount()) > 0, { what: 'chunks being written' });
    // Nothing more is sent: the idle timeout (500 ms) ends it.
    const result = await outcome;
    req.destroy();
    if (result.kind === 'response') {
      assert.equal(result.status, 408, result.body);
      assert.equal((JSON.parse(result.body) as ProblemBody).code, 'UPLOAD_STALLED');
    }
    await waitFor(async () => (await chunkCount()) === 0, { what: 'the chunks removed' });
    await assertNothingLeft();
  });
});

describe('POST /upload: uploads at once', () => {
  before(async () => {
    await system.restartGateway({ MAX_CONCURRENT_UPLOADS: '2' });
  });
  after(async () => {
    await system.restartGateway();
  });
  beforeEach(clean);

  it('refuses an upload past MAX_CONCURRENT_UPLOADS with 503 and Retry-After, and takes one again when a slot frees', async () => {
    const head = Buffer.concat([partHead(file(Buffer.alloc(0))), randomBytes(700_000)]);
    const first = startPartialUpload(head, head.length + 300_000);
    const second = startPartialUpload(head, head.length + 300_000);
    try {
      // Both are being stored: each holds a slot.
      await waitFor(
        async () => (await system.videos.collection('fs.chunks').distinct('files_id')).length === 2,
        { what: 'two uploads being written' },
      );
      const refused = await api.upload(videoForm(randomBytes(1000)), { expectedStatus: 503 });
      assertProblem(refused, 'TOO_MANY_UPLOADS');
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);

      const abortedBefore = await uploadsTotal('aborted');
      first.req.destroy();
      await waitFor(async () => (await uploadsTotal('aborted')) === abortedBefore + 1, {
        what: 'the first upload to end',
      });
      await api.upload(videoForm(randomBytes(1000)));
    } finally {
      first.req.destroy();
      second.req.destroy();
      await Promise.all([first.outcome, second.outcome]);
    }
    await waitFor(async () => (await system.videos.collection('fs.files').countDocuments()) === 1, {
      what: 'only the accepted upload kept',
    });
    await waitFor(async () => (await chunkCount()) === 1, { what: 'the partial uploads removed' });
  });
});

describe('POST /upload: gateway shutdown', () => {
  before(async () => {
    await system.restartGateway({ SHUTDOWN_GRACE_MS: '300' });
  });

  after(async () => {
    await system.restartGateway();
  });

  it('cuts off an upload still arriving after the grace period and removes its partial file before closing MongoDB', async () => {
    await clean();
    const head = Buffer.concat([partHead(file(Buffer.alloc(0))), randomBytes(700_000)]);
    const { outcome } = startPartialUpload(head, head.length + 1_000_000);
    await waitFor(async () => (await chunkCount()) > 0, { what: 'chunks being written' });
    await system.gateway.stop();
    assert.deepEqual(await leftovers(), NOTHING);
    assert.equal((await outcome).kind, 'closed');
  });
});

describe('POST /upload: RabbitMQ down', () => {
  beforeEach(clean);
  afterEach(async () => {
    // Whatever happened in the test, the broker is reachable again for the next one.
    await system.amqpProxy.restore().catch(() => undefined);
  });

  async function readiness(): Promise<number> {
    return (await fetch(`${system.url}/readyz`)).status;
  }

  it('answers 503 with Retry-After, keeps nothing, and accepts again once the broker is back', async () => {
    await system.amqpProxy.cut();
    await waitFor(async () => (await readiness()) === 503, { what: 'the gateway to see the cut' });

    const response = await api.upload(videoForm(randomBytes(600_000)), { expectedStatus: 503 });
    assertProblem(response, 'DEPENDENCY_UNAVAILABLE');
    assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
    await assertNothingLeft();

    await system.amqpProxy.restore();
    // The same gateway reconnects by itself; refused attempts meanwhile leave nothing.
    const accepted = await waitFor(
      async () => {
        const attempt = await api.upload(videoForm(randomBytes(1000)), { expectedStatus: 'any' });
        return attempt.status === 202 ? (attempt.body as { jobId: string }) : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'an upload accepted after the restore' },
    );
    assert.deepEqual(await leftovers(), { files: 1, chunks: 1, jobs: 1, messages: 1 });
    assert.equal(videoMessageSchema.parse(await takeVideoMessage()).job_id, accepted.jobId);
  });

  describe('when the connection is lost while the message is being published', () => {
    before(async () => {
      await system.restartGateway({ AMQP_PUBLISH_TIMEOUT_MS: '1500' });
    });
    after(async () => {
      await system.restartGateway();
    });

    it('answers 503 and removes the job and the video', async () => {
      // Stalled: the gateway still counts as connected, so the upload goes as far as
      // publishing, and the confirm cannot come back.
      system.amqpProxy.stall();
      const response = api.upload(videoForm(randomBytes(600_000)), { expectedStatus: 503 });
      await waitFor(async () => (await leftovers()).jobs === 1, {
        what: 'the job created, its message on the way',
      });
      await system.amqpProxy.cut();
      const answer = await response;
      assertProblem(answer, 'DEPENDENCY_UNAVAILABLE');
      assert.ok(answer.headers.has('retry-after'));

      await system.amqpProxy.restore();
      await waitFor(async () => (await readiness()) === 200, { what: 'the gateway reconnected' });
      // The message died with the connection, and the publisher does not send it again.
      await assertNothingLeft();
    });

    it('answers 202 when the confirm is lost but a converter already took the job, and keeps its video', async () => {
      await clean();
      system.amqpProxy.stall();
      const response = api.upload(videoForm(randomBytes(600_000)));
      const jobId = await waitFor(
        async () =>
          (await system.jobsDb.collection<{ _id: string }>(JOBS_COLLECTION).findOne({}))?._id,
        { what: 'the job created, its message on the way' },
      );
      // What a converter does on receiving the message (whose confirm is what gets lost).
      const store = new JobStore(system.jobsDb);
      assert.ok(await store.claim(jobId, { worker: 'converter', mp3Fid: new ObjectId() }));
      await system.amqpProxy.cut();
      const { body } = await response;
      assert.deepEqual([body.jobId, body.status], [jobId, 'converting']);
      const { files, jobs } = await leftovers();
      assert.deepEqual({ files, jobs }, { files: 1, jobs: 1 });

      await system.amqpProxy.restore();
      await waitFor(async () => (await readiness()) === 200, { what: 'the gateway reconnected' });
    });
  });
});

describe('POST /upload: auth down', () => {
  let own: TestSystem;
  let ownToken: string;

  before(async () => {
    own = await startTestSystem();
    ({ token: ownToken } = await signUp(own.url));
    await own.auth.stopService();
  });
  after(async () => {
    await own.stop();
  });

  it('answers 503 with Retry-After within a couple of seconds', async () => {
    const started = performance.now();
    const response = await own.api
      .as(ownToken)
      .upload(videoForm(randomBytes(600_000)), { expectedStatus: 503 });
    const elapsedMs = performance.now() - started;
    assertProblem(response, 'DEPENDENCY_UNAVAILABLE');
    assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
    assert.ok(elapsedMs < 3_000, `answered after ${Math.round(elapsedMs)} ms`);
    const files = await own.videos.collection('fs.files').countDocuments();
    const jobs = await own.jobsDb.collection(JOBS_COLLECTION).countDocuments();
    assert.deepEqual({ files, jobs }, { files: 0, jobs: 0 });
  });
});
