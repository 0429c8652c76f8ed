import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { findFile, openBucket, uploadFromStream, type FileBucket } from '@mp3converter/gridfs';
import {
  generateMedia,
  probeMedia,
  startTcpProxy,
  testServers,
  waitFor,
} from '@mp3converter/testkit';
import { MongoClient, type GridFSFile } from 'mongodb';
import {
  FfmpegError,
  checkFfmpeg,
  convertToMp3,
  locateFfmpeg,
  type FfmpegBinary,
} from '../src/ffmpeg/index.ts';
import { serveVideo, type VideoSource } from '../src/video-source.ts';

const CHUNK_SIZE = 4096;
const client = new MongoClient(testServers.mongoUrl);
const db = client.db(`mp3test_source_${randomUUID().replaceAll('-', '')}`);
let dir: string;
let ffmpeg: FfmpegBinary;
let bucketCount = 0;

before(async () => {
  await client.connect();
  dir = await mkdtemp(join(tmpdir(), 'mp3test-source-'));
  ffmpeg = await checkFfmpeg(locateFfmpeg(undefined, process.env.PATH ?? ''));
});

after(async () => {
  await db.dropDatabase();
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

/** Stores `content` (bytes, or a file's path) in a fresh bucket; small chunks make many of them. */
async function store(content: Buffer | string): Promise<{ bucket: FileBucket; file: GridFSFile }> {
  const bucket = openBucket(db, `b${++bucketCount}`, { chunkSizeBytes: CHUNK_SIZE });
  const stream = typeof content === 'string' ? createReadStream(content) : Readable.from([content]);
  const { id } = await uploadFromStream(bucket, stream, { filename: 'video' });
  const file = await findFile(bucket, id);
  assert.ok(file);
  return { bucket, file };
}

/** A plain HTTP request, so that the test sees status, headers and body as ffmpeg would. */
function get(
  url: URL | string,
  options: { method?: string; range?: string } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.range === undefined ? {} : { Range: options.range },
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(parts),
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** Serves the file for the time of `use`. */
async function withSource<T>(
  bucket: FileBucket,
  file: GridFSFile,
  use: (source: VideoSource) => Promise<T>,
): Promise<T> {
  const source = await serveVideo(bucket, file);
  try {
    return await use(source);
  } finally {
    await source.close();
  }
}

describe('serveVideo', () => {
  it('serves the stored file whole and in byte ranges, byte-identical, at its URL only', async () => {
    const content = randomBytes(10 * CHUNK_SIZE + 123);
    const { bucket, file } = await store(content);
    await withSource(bucket, file, async (source) => {
      assert.equal(source.url.hostname, '127.0.0.1');
      assert.match(source.url.pathname, /^\/[0-9a-f]{32}$/);

      const whole = await get(source.url);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers['accept-ranges'], 'bytes');
      assert.equal(Number(whole.headers['content-length']), content.length);
      assert.ok(whole.body.equals(content));

      for (const [range, start, end] of [
        ['bytes=0-', 0, content.length],
        [`bytes=${CHUNK_SIZE - 5}-${3 * CHUNK_SIZE + 7}`, CHUNK_SIZE - 5, 3 * CHUNK_SIZE + 8],
        ['bytes=-100', content.length - 100, content.length],
      ] as const) {
        const part = await get(source.url, { range });
        assert.equal(part.status, 206, range);
        assert.equal(part.headers['content-range'], `bytes ${start}-${end - 1}/${content.length}`);
        assert.ok(part.body.equals(content.subarray(start, end)), range);
      }

      const past = await get(source.url, { range: `bytes=${content.length}-` });
      assert.equal(past.status, 416);
      assert.equal(past.headers['content-range'], `bytes */${content.length}`);
      const head = await get(source.url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal((await get(source.url, { method: 'POST' })).status, 405);
      const other = new URL(source.url);
      other.pathname = '/0123456789abcdef0123456789abcdef';
      assert.equal((await get(other)).status, 404);
      assert.equal(source.error, undefined);
    });
  });

  it('keeps a failed read as its error and cuts the response short', async () => {
    const content = randomBytes(40 * CHUNK_SIZE);
    const { bucket, file } = await store(content);
    await bucket.chunks.deleteOne({ files_id: file._id, n: 30 });
    await withSource(bucket, file, async (source) => {
      await assert.rejects(get(source.url), /aborted|socket hang up|ECONNRESET/);
      assert.match(String(source.error), /ChunkIsMissing/);
    });
  });

  it('takes a client that goes away early for no error', async () => {
    const { bucket, file } = await store(randomBytes(200 * CHUNK_SIZE));
    await withSource(bucket, file, async (source) => {
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest(source.url, (response) => {
          response.once('data', () => {
            request.destroy();
            resolve();
          });
        });
        request.on('error', reject);
        request.end();
      });
      const later = await get(source.url, { range: 'bytes=0-9' });
      assert.equal(later.status, 206);
      assert.equal(source.error, undefined);
    });
  });

  it('when closed, cuts a response under way and refuses new connections', async () => {
    const stored = await store(randomBytes(200 * CHUNK_SIZE));
    const { file } = stored;
    // The server reads the file through a proxy that holds MongoDB's answers back once
    // HELD_AFTER bytes of them have passed: it cannot have sent more than that when close()
    // runs, so the response is provably under way, however much the kernel's socket buffers
    // would take (a client that merely paused could find all 800 KiB there, as it did in CI).
    const HELD_AFTER = 64 * 1024;
    let answered = 0;
    // Counting from the request on, and only until the hold: resume() must let the rest through.
    let counting = false;
    const proxy = await startTcpProxy(Number(new URL(testServers.mongoUrl).port), '127.0.0.1', {
      onData: (chunk, from) => {
        if (!counting || from !== 'server') return;
        answered += chunk.length;
        if (answered > HELD_AFTER) {
          counting = false;
          proxy.stall('server');
        }
      },
    });
    const proxied = new URL(testServers.mongoUrl);
    proxied.port = String(proxy.port);
    const slowClient = new MongoClient(proxied.href);
    try {
      const bucket = openBucket(slowClient.db(db.databaseName), stored.bucket.bucketName, {
        chunkSizeBytes: CHUNK_SIZE,
      });
      const source = await serveVideo(bucket, file);
      let received = 0;
      counting = true;
      const cut = new Promise<void>((resolve, reject) => {
        const request = httpRequest(source.url, (response) => {
          response.on('data', (part: Buffer) => {
            received += part.length;
          });
          response.on('error', () => {
            resolve();
          });
          response.on('end', () => {
            reject(new Error('the whole file arrived'));
          });
        });
        request.on('error', () => {
          resolve();
        });
        request.end();
      });
      await waitFor(() => received > 0 && answered > HELD_AFTER, {
        what: 'the first bytes, and the reads held',
      });
      const closing = source.close();
      await cut;
      // close() resolves once the read it interrupted has ended: let MongoDB's answer through.
      proxy.resume();
      await closing;
      assert.ok(received <= answered, `${received} bytes received, ${answered} read`);
      assert.ok(received < file.length, `${received} of ${file.length} bytes`);
      await assert.rejects(get(source.url), /ECONNREFUSED/);
      assert.equal(source.error, undefined);
    } finally {
      await slowClient.close();
      await proxy.close();
    }
  });
});

describe('ffmpeg reading a served video', () => {
  for (const faststart of [false, true]) {
    it(`converts an MP4 with its index ${faststart ? 'first' : 'at the end'}`, async () => {
      const video = join(dir, `video-${faststart}.mp4`);
      await generateMedia(video, { container: 'mp4', seconds: 12, faststart });
      const { bucket, file } = await store(video);
      await withSource(bucket, file, async (source) => {
        const output = join(dir, `out-${faststart}.mp3`);
        const result = await convertToMp3(ffmpeg, {
          input: source.url,
          output,
          options: { bitrate_kbps: 128 },
          title: 'served',
        });
        assert.equal(result.inputDurationSeconds, 12);
        assert.ok(Math.abs(result.outputDurationSeconds - 12) < 0.1, JSON.stringify(result));
        const probed = await probeMedia(output);
        assert.equal(probed.formatName, 'mp3');
        assert.ok(Math.abs(probed.durationSeconds - 12) < 0.1);
        assert.equal(source.error, undefined);
      });
    });
  }

  it('reaches its loopback server past an http_proxy in the environment', async () => {
    const video = join(dir, 'proxied.mp4');
    await generateMedia(video, { container: 'mp4', seconds: 2 });
    const { bucket, file } = await store(video);
    const saved = process.env.http_proxy;
    // Nothing listens there: a request sent through it would fail.
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      await withSource(bucket, file, async (source) => {
        const result = await convertToMp3(ffmpeg, {
          input: source.url,
          output: join(dir, 'proxied.mp3'),
          options: { bitrate_kbps: 128 },
          title: 'proxied',
        });
        assert.equal(result.inputDurationSeconds, 2);
      });
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
  });

  it('never fetches the URLs a served playlist names (NOT_MEDIA)', async () => {
    let requests = 0;
    const elsewhere = createServer((_request, response) => {
      requests++;
      response.end();
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const { port } = elsewhere.address() as AddressInfo;
    try {
      const playlists = [
        `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:${port}/secret.ts\n#EXT-X-ENDLIST\n`,
        `ffconcat version 1.0\nfile http://127.0.0.1:${port}/secret.mp4\n`,
      ];
      for (const playlist of playlists) {
        const { bucket, file } = await store(Buffer.from(playlist));
        await withSource(bucket, file, async (source) => {
          await assert.rejects(
            convertToMp3(ffmpeg, {
              input: source.url,
              output: join(dir, 'playlist.mp3'),
              options: { bitrate_kbps: 128 },
              title: 'playlist',
            }),
            (error: unknown) => {
              assert.ok(error instanceof FfmpegError);
              assert.equal(error.code, 'NOT_MEDIA');
              assert.match(error.stderrTail, /not on whitelist/);
              return true;
            },
            playlist,
          );
        });
      }
      assert.equal(requests, 0);
    } finally {
      elsewhere.close();
    }
  });

  it('refuses an input URL that is not http on the loopback address', async () => {
    for (const url of ['https://127.0.0.1/x', 'http://example.com/x', 'file:///etc/passwd']) {
      await assert.rejects(
        convertToMp3(ffmpeg, {
          input: new URL(url),
          output: join(dir, 'never.mp3'),
          options: { bitrate_kbps: 128 },
          title: 'never',
        }),
        RangeError,
        url,
      );
    }
  });
});
