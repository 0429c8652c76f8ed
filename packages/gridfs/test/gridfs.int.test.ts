import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';

import { DependencyUnavailableError } from '@mp3converter/errors';
import { connectMongo, isDuplicateKeyError, type MongoConnection } from '@mp3converter/mongo';
import { startTcpProxy, testServers, waitFor, type TcpProxy } from '@mp3converter/testkit';
import { MongoClient, MongoGridFSChunkError, ObjectId, type Db } from 'mongodb';

import {
  deleteFile,
  FileTooLargeError,
  findFile,
  openBucket,
  parseObjectId,
  readStoredFile,
  sweepOrphanChunks,
  uploadFromStream,
  type FileBucket,
} from '../src/index.ts';

const MiB = 1024 * 1024;
const DEFAULT_CHUNK_SIZE = 255 * 1024;
/** Small chunks make multi-chunk files out of a few KB. */
const SMALL_CHUNK_SIZE = 1024;

const client = new MongoClient(testServers.mongoUrl, { monitorCommands: true });
const db: Db = client.db(`mp3test_gridfs_${randomUUID().replaceAll('-', '')}`);
let bucketCount = 0;

/** Each test gets its own bucket in this run's database. */
function freshBucket(chunkSizeBytes = SMALL_CHUNK_SIZE): FileBucket {
  bucketCount += 1;
  return openBucket(db, `b${bucketCount}`, { chunkSizeBytes });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A Readable that yields `bytes` in pieces of the given sizes, in turn. */
function streamOf(bytes: Buffer, pieceSizes: number[] = [4096]): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0, i = 0; offset < bytes.length; i += 1) {
        const size = pieceSizes[i % pieceSizes.length]!;
        yield bytes.subarray(offset, offset + size);
        offset += size;
      }
    })(),
  );
}

/** The whole stored file, as readStoredFile reads it. */
async function download(bucket: FileBucket, id: ObjectId): Promise<Buffer> {
  const file = await findFile(bucket, id);
  assert.ok(file, `no file ${id.toHexString()}`);
  return buffer(Readable.from(readStoredFile(bucket, file)));
}

async function counts(bucket: FileBucket, id?: ObjectId) {
  return {
    files: await bucket.files.countDocuments(id === undefined ? {} : { _id: id }),
    chunks: await bucket.chunks.countDocuments(id === undefined ? {} : { files_id: id }),
  };
}

before(async () => {
  await client.connect();
});

after(async () => {
  await db.dropDatabase();
  const { databases } = await client.db().admin().listDatabases({ nameOnly: true });
  assert.ok(!databases.some((d) => d.name === db.databaseName), 'test database left behind');
  await client.close();
});

describe('GridFS helpers against the Mongo-wire server', () => {
  it('stores a 5 MB stream and reads it back byte-identical', async (t) => {
    const bucket = freshBucket(DEFAULT_CHUNK_SIZE);
    const source = randomBytes(5 * MiB);

    let started = performance.now();
    const uploaded = await uploadFromStream(
      bucket,
      streamOf(source, [65_536, 300_001, 1, 123_457]),
      {
        filename: 'clip.mp4',
        contentType: 'video/mp4',
        metadata: { owner: 'alice@example.com' },
        maxBytes: 6 * MiB,
      },
    );
    const uploadMs = performance.now() - started;

    assert.equal(uploaded.length, source.length);
    assert.equal(uploaded.chunkSize, DEFAULT_CHUNK_SIZE);
    assert.equal(uploaded.filename, 'clip.mp4');
    assert.deepEqual(uploaded.metadata, { owner: 'alice@example.com', contentType: 'video/mp4' });
    assert.deepEqual(await counts(bucket, uploaded.id), {
      files: 1,
      chunks: Math.ceil(source.length / DEFAULT_CHUNK_SIZE),
    });
    const file = await findFile(bucket, uploaded.id);
    assert.equal(file?.length, source.length);
    assert.equal(file.uploadDate.getTime(), uploaded.uploadDate.getTime());

    started = performance.now();
    const hash = createHash('sha256');
    await pipeline(Readable.from(readStoredFile(bucket, file)), hash);
    const downloadMs = performance.now() - started;
    assert.equal(hash.digest('hex'), sha256(source));

    t.diagnostic(`5 MB upload ${uploadMs.toFixed(0)} ms, download ${downloadMs.toFixed(0)} ms`);
  });

  it('creates the standard GridFS indexes, the chunks one unique', async () => {
    const bucket = freshBucket();
    await uploadFromStream(bucket, streamOf(randomBytes(10)), { filename: 'tiny' });

    const fileIndexes = await bucket.files.indexes();
    assert.ok(fileIndexes.some((i) => JSON.stringify(i.key) === '{"filename":1,"uploadDate":1}'));
    const chunkIndexes = await bucket.chunks.indexes();
    const chunksIndex = chunkIndexes.find((i) => JSON.stringify(i.key) === '{"files_id":1,"n":1}');
    assert.equal(chunksIndex?.unique, true);
  });

  it('finds files sorted by upload date, and by filename or metadata', async () => {
    const bucket = freshBucket();
    for (const [filename, owner] of [
      ['a.mp4', 'alice'],
      ['b.mp4', 'bob'],
      ['c.mp4', 'alice'],
    ] as const) {
      const uploaded = await uploadFromStream(bucket, streamOf(randomBytes(1500)), {
        filename,
        metadata: { owner },
      });
      // The next upload must get a later uploadDate (millisecond resolution).
      await waitFor(() => Date.now() > uploaded.uploadDate.getTime(), {
        what: 'the clock to pass the upload date',
        intervalMs: 1,
      });
    }
    const names = (files: { filename: string }[]) => files.map((f) => f.filename);

    const newestFirst = await bucket.find({}, { sort: { uploadDate: -1 } }).toArray();
    assert.deepEqual(names(newestFirst), ['c.mp4', 'b.mp4', 'a.mp4']);
    const alices = await bucket
      .find({ 'metadata.owner': 'alice' }, { sort: { uploadDate: -1 } })
      .toArray();
    assert.deepEqual(names(alices), ['c.mp4', 'a.mp4']);
    const byName = await bucket.find({ filename: 'b.mp4' }).toArray();
    assert.deepEqual(names(byName), ['b.mp4']);
    const lastTwoByName = await bucket.find({}, { sort: { filename: -1 }, limit: 2 }).toArray();
    assert.deepEqual(names(lastTwoByName), ['c.mp4', 'b.mp4']);
  });

  it('removes what it wrote when the source fails midway, and rethrows', async () => {
    const bucket = freshBucket();
    const failure = new Error('camera unplugged');
    const gate = Promise.withResolvers<undefined>();
    const source = Readable.from(
      (async function* () {
        yield randomBytes(2500);
        yield randomBytes(2500);
        await gate.promise;
        throw failure;
      })(),
    );

    const upload = uploadFromStream(bucket, source, { filename: 'broken.mp4' });
    await waitFor(async () => (await counts(bucket)).chunks === 4, { what: 'four chunks' });
    gate.resolve(undefined);
    await assert.rejects(upload, failure);
    assert.deepEqual(await counts(bucket), { files: 0, chunks: 0 });
  });

  it('removes its chunks when its files document is refused, and leaves the other file whole', async () => {
    const bucket = freshBucket();
    // What a pipeline does to make a redelivered job harmless: one result per job.
    await bucket.files.createIndex({ 'metadata.job_id': 1 }, { unique: true }, undefined);
    const jobId = randomUUID();
    const first = randomBytes(3000);
    const stored = await uploadFromStream(bucket, streamOf(first), {
      filename: 'song.mp3',
      metadata: { job_id: jobId },
    });

    // Every chunk of the repeat goes in; only its files document collides.
    await assert.rejects(
      uploadFromStream(bucket, streamOf(randomBytes(4000)), {
        filename: 'song.mp3',
        metadata: { job_id: jobId },
      }),
      (error: unknown) => isDuplicateKeyError(error),
    );
    assert.deepEqual(await counts(bucket), { files: 1, chunks: 3 });
    assert.equal(sha256(await download(bucket, stored.id)), sha256(first));
  });

  it('fails with FILE_TOO_LARGE past maxBytes and keeps nothing', async () => {
    const bucket = freshBucket();
    const tooLarge = uploadFromStream(bucket, streamOf(randomBytes(6000), [2000]), {
      filename: 'big.mp4',
      maxBytes: 5000,
    });
    await assert.rejects(tooLarge, (error: unknown) => {
      assert.ok(error instanceof FileTooLargeError);
      assert.equal(error.name, 'FileTooLargeError');
      assert.equal(error.code, 'FILE_TOO_LARGE');
      assert.equal(error.status, 413);
      assert.equal(error.retryable, false);
      return true;
    });
    assert.deepEqual(await counts(bucket), { files: 0, chunks: 0 });

    const exact = await uploadFromStream(bucket, streamOf(randomBytes(5000), [2000]), {
      filename: 'limit.mp4',
      maxBytes: 5000,
    });
    assert.equal(exact.length, 5000);
  });

  it('deletes a file with its chunks, and deleting a missing file is harmless', async () => {
    const bucket = freshBucket();
    const { id } = await uploadFromStream(bucket, streamOf(randomBytes(3000)), {
      filename: 'gone.mp4',
    });

    assert.equal(await deleteFile(bucket, id), true);
    assert.deepEqual(await counts(bucket, id), { files: 0, chunks: 0 });
    assert.equal(await findFile(bucket, id), undefined);
    assert.equal(await deleteFile(bucket, id), false);
    assert.equal(await deleteFile(bucket, new ObjectId()), false);
  });

  it('finds a file by an id from parseObjectId and rejects garbage ids', async () => {
    const bucket = freshBucket();
    const { id } = await uploadFromStream(bucket, streamOf(randomBytes(10)), { filename: 'x' });

    const parsed = parseObjectId(id.toHexString());
    assert.ok(parsed !== undefined);
    assert.equal((await findFile(bucket, parsed))?.filename, 'x');
    for (const garbage of ['nope', 'aaaaaaaaaaaa', `${id.toHexString()}0`, { $gt: '' }]) {
      assert.equal(parseObjectId(garbage), undefined);
    }
  });
});

describe('readStoredFile', () => {
  async function read(...args: Parameters<typeof readStoredFile>): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of readStoredFile(...args)) parts.push(part);
    return Buffer.concat(parts);
  }

  /** Uploads `bytes` and resolves the files document readStoredFile takes. */
  async function stored(bucket: FileBucket, bytes: Buffer) {
    const { id } = await uploadFromStream(bucket, streamOf(bytes), { filename: 'v.mp4' });
    const file = await findFile(bucket, id);
    assert.ok(file);
    return file;
  }

  it('reads files whole, byte-identical: many windows, a short last chunk, whole chunks, empty', async () => {
    const bucket = freshBucket();
    // 8 chunks per window: 101 chunks take 13 queries.
    for (const size of [100 * SMALL_CHUNK_SIZE + 17, 40 * SMALL_CHUNK_SIZE, 1, 0]) {
      const bytes = randomBytes(size);
      const got = await read(bucket, await stored(bucket, bytes));
      assert.equal(sha256(got), sha256(bytes), `${size} bytes`);
    }
  });

  it('refuses a file with a missing, resized or extra chunk', async () => {
    const damages: [string, (bucket: FileBucket, id: ObjectId) => Promise<unknown>, RegExp][] = [
      ['missing', (b, id) => b.chunks.deleteOne({ files_id: id, n: 5 }), /ChunkIsMissing/],
      ['last missing', (b, id) => b.chunks.deleteOne({ files_id: id, n: 59 }), /ChunkIsMissing/],
      [
        'resized',
        (b, id) => b.chunks.updateOne({ files_id: id, n: 7 }, { $set: { data: Buffer.alloc(3) } }),
        /ChunkIsWrongSize/,
      ],
      [
        'extra',
        (b, id) => b.chunks.insertOne({ files_id: id, n: 60, data: Buffer.alloc(3) } as never),
        /ExtraChunk/,
      ],
      [
        'extra, after a gap',
        (b, id) => b.chunks.insertOne({ files_id: id, n: 64, data: Buffer.alloc(3) } as never),
        /ExtraChunk/,
      ],
    ];
    for (const [what, damage, message] of damages) {
      const bucket = freshBucket();
      const file = await stored(bucket, randomBytes(60 * SMALL_CHUNK_SIZE));
      await damage(bucket, file._id);
      await assert.rejects(
        read(bucket, file),
        (error: unknown) => error instanceof MongoGridFSChunkError && message.test(error.message),
        what,
      );
    }
  });

  it('stops with the reason when its signal aborts, before or while it reads', async () => {
    const bucket = freshBucket();
    const file = await stored(bucket, randomBytes(30 * SMALL_CHUNK_SIZE));
    const reason = new Error('job deleted');
    await assert.rejects(
      read(bucket, file, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    const controller = new AbortController();
    let parts = 0;
    await assert.rejects(
      (async () => {
        for await (const part of readStoredFile(bucket, file, { signal: controller.signal })) {
          assert.equal(part.length, SMALL_CHUNK_SIZE);
          if (++parts === 1) controller.abort(reason);
        }
      })(),
      (error) => error === reason,
    );
    // The rest of the first window, then no more.
    assert.ok(parts <= 8, `${parts} parts read after the abort`);
  });

  it('reads any byte range byte-identical, whatever the window', async () => {
    const bucket = freshBucket();
    const c = SMALL_CHUNK_SIZE;
    const source = randomBytes(20 * c + 333);
    const { id } = await uploadFromStream(bucket, streamOf(source), { filename: 'r.mp4' });
    const file = await findFile(bucket, id);
    assert.ok(file);
    const ranges: [string, number, number][] = [
      ['first byte', 0, 1],
      ['last byte', source.length - 1, source.length],
      ['inside one chunk', c + 5, c + 500],
      ['exactly the second chunk', c, 2 * c],
      ['across one boundary', c - 10, c + 10],
      ['across several windows', 100, 17 * c + 5],
      ['into the short last chunk', 12 * c + 7, source.length],
      ['the whole file', 0, source.length],
    ];
    for (const windowChunks of [1, 3, 8, 100]) {
      for (const [what, start, end] of ranges) {
        const got = await read(bucket, file, { range: { start, end }, windowChunks });
        assert.ok(got.equals(source.subarray(start, end)), `${what}, window ${windowChunks}`);
      }
      const whole = await read(bucket, file, { windowChunks });
      assert.ok(whole.equals(source), `no range, window ${windowChunks}`);
    }
    // The ranges of `bytes=-700`, `bytes=<c - 1>-` and `bytes=10-20`, with the default window.
    for (const [start, end] of [
      [source.length - 700, source.length],
      [c - 1, source.length],
      [10, 21],
    ] as const) {
      const got = await read(bucket, file, { range: { start, end } });
      assert.ok(got.equals(source.subarray(start, end)), `${start}-${end}`);
    }
    await assert.rejects(
      read(bucket, file, { range: { start: 0, end: source.length + 1 } }),
      RangeError,
    );
    await assert.rejects(read(bucket, file, { range: { start: 5, end: 5 } }), RangeError);
    await assert.rejects(read(bucket, file, { windowChunks: 0 }), RangeError);
  });

  it('finds a chunk missing from the range it reads, and reads a range the damage is outside of', async () => {
    const bucket = freshBucket();
    const source = randomBytes(30 * SMALL_CHUNK_SIZE);
    const { id } = await uploadFromStream(bucket, streamOf(source), { filename: 'd.mp4' });
    const file = await findFile(bucket, id);
    assert.ok(file);
    await bucket.chunks.deleteOne({ files_id: id, n: 20 });
    const c = SMALL_CHUNK_SIZE;
    await assert.rejects(
      read(bucket, file, { range: { start: 19 * c, end: 22 * c }, windowChunks: 8 }),
      /ChunkIsMissing/,
    );
    const before = await read(bucket, file, { range: { start: 0, end: 20 * c }, windowChunks: 8 });
    assert.ok(before.equals(source.subarray(0, 20 * c)));
  });
});

describe('uploadFromStream with sha256', () => {
  it('keeps the digest of the content in the files document it writes', async () => {
    const bucket = freshBucket();
    const content = randomBytes(5000);
    const uploaded = await uploadFromStream(bucket, streamOf(content, [700, 1300]), {
      filename: 'hashed.bin',
      metadata: { owner_id: 'user-1' },
      sha256: true,
    });
    assert.equal(uploaded.sha256, sha256(content));
    const stored = await bucket.files.findOne({ _id: uploaded.id });
    assert.deepEqual(stored?.metadata, { owner_id: 'user-1', sha256: sha256(content) });
    const plain = await uploadFromStream(bucket, streamOf(content), { filename: 'plain.bin' });
    assert.equal(plain.sha256, undefined);
  });
});

describe('sweepOrphanChunks', () => {
  it('deletes the chunks of old files that never got a files document, and nothing else', async () => {
    const bucket = freshBucket();
    const complete = await uploadFromStream(bucket, streamOf(randomBytes(3000)), {
      filename: 'complete.bin',
    });
    // An upload begun an hour ago whose files document never came (the server went away).
    const orphan = ObjectId.createFromTime(Math.floor(Date.now() / 1000) - 3600);
    // And one begun just now, still arriving: its files document comes last.
    const arriving = new ObjectId();
    for (const filesId of [orphan, arriving]) {
      await bucket.chunks.insertMany(
        [0, 1].map((n) => ({
          _id: new ObjectId(),
          files_id: filesId,
          n,
          data: randomBytes(100),
        })),
      );
    }

    const olderThan = new Date(Date.now() - 10 * 60 * 1000);
    assert.equal(await sweepOrphanChunks(bucket, olderThan), 1);
    assert.equal(await bucket.chunks.countDocuments({ files_id: orphan }), 0);
    assert.equal(await bucket.chunks.countDocuments({ files_id: arriving }), 2);
    assert.equal(await bucket.chunks.countDocuments({ files_id: complete.id }), 3);
    assert.equal(await sweepOrphanChunks(bucket, olderThan), 0);
    // With a cutoff after the arriving upload began, it counts as abandoned too.
    assert.equal(await sweepOrphanChunks(bucket, new Date(Date.now() + 1000)), 1);
    assert.equal(await bucket.chunks.countDocuments({ files_id: complete.id }), 3);
  });

  it('sweeps in batches: orphans and complete files mixed across several batches', async () => {
    const bucket = freshBucket();
    const completeIds: ObjectId[] = [];
    for (let i = 0; i < 5; i += 1) {
      const file = await uploadFromStream(bucket, streamOf(randomBytes(10)), { filename: `f${i}` });
      completeIds.push(file.id);
    }
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const orphans = Array.from({ length: 7 }, (_, i) => ObjectId.createFromTime(hourAgo + i));
    await bucket.chunks.insertMany(
      orphans.map((filesId) => ({
        _id: new ObjectId(),
        files_id: filesId,
        n: 0,
        data: randomBytes(10),
      })),
    );
    assert.equal(await sweepOrphanChunks(bucket, new Date(Date.now() + 1000), 3), 7);
    assert.equal(await bucket.chunks.countDocuments({ files_id: { $in: orphans } }), 0);
    assert.equal(await bucket.chunks.countDocuments({ files_id: { $in: completeIds } }), 5);
  });
});

describe('GridFS helpers when the server goes away', () => {
  let proxy: TcpProxy;
  let mongo: MongoConnection;
  /** The same buckets as `freshBucket`, but reached through the proxy. */
  const viaProxy = (bucket: FileBucket) =>
    openBucket(mongo.db(db.databaseName), bucket.bucketName, {
      chunkSizeBytes: SMALL_CHUNK_SIZE,
    });

  before(async () => {
    proxy = await startTcpProxy(Number(new URL(testServers.mongoUrl).port));
    mongo = await connectMongo({
      url: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true`,
      appName: 'gridfs-test',
      serverSelectionTimeoutMs: 1_000,
    });
  });

  after(async () => {
    await mongo.close();
    await proxy.close();
  });

  it('rejects an upload cut midway with DependencyUnavailableError, and the same client uploads after restore', async () => {
    const bucket = freshBucket();
    const remote = viaProxy(bucket);
    const gate = Promise.withResolvers<undefined>();
    const upload = uploadFromStream(
      remote,
      Readable.from(
        (async function* () {
          yield randomBytes(2 * SMALL_CHUNK_SIZE);
          await gate.promise;
          yield randomBytes(2 * SMALL_CHUNK_SIZE);
        })(),
      ),
      { filename: 'cut.mp4' },
    );
    await waitFor(async () => (await counts(bucket)).chunks === 2, { what: 'two chunks' });

    await proxy.cut();
    try {
      const started = performance.now();
      gate.resolve(undefined);
      await assert.rejects(upload, (error: unknown) => {
        assert.ok(error instanceof DependencyUnavailableError, String(error));
        assert.equal(error.dependency, 'mongodb');
        assert.equal(error.status, 503);
        return true;
      });
      assert.ok(performance.now() - started < 15_000, 'rejected within 15 s, not hanging');
      assert.equal((await counts(bucket)).files, 0);
    } finally {
      await proxy.restore();
    }

    const again = randomBytes(3000);
    const { id } = await uploadFromStream(remote, streamOf(again), { filename: 'again.mp4' });
    assert.equal((await findFile(remote, id))?.length, again.length);
    assert.equal(sha256(await download(remote, id)), sha256(again));
  });

  it('rejects findFile and deleteFile with DependencyUnavailableError while cut, and serves them after restore', async () => {
    const bucket = freshBucket();
    const remote = viaProxy(bucket);
    const { id } = await uploadFromStream(bucket, streamOf(randomBytes(1500)), {
      filename: 'kept.mp4',
    });

    await proxy.cut();
    try {
      await assert.rejects(findFile(remote, id), DependencyUnavailableError);
      await assert.rejects(deleteFile(remote, id), DependencyUnavailableError);
    } finally {
      await proxy.restore();
    }

    assert.equal((await findFile(remote, id))?.filename, 'kept.mp4');
    assert.equal(await deleteFile(remote, id), true);
    assert.deepEqual(await counts(bucket, id), { files: 0, chunks: 0 });
  });
});
