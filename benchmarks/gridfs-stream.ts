// Streams files through GridFS on the local Mongo-wire server and prints
// throughput and the process's peak memory, which must stay flat with size.
// Usage: node benchmarks/gridfs-stream.ts [sizeMiB ...]   (default: 5 50 200)
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MongoClient } from 'mongodb';
import {
  deleteFile,
  findFile,
  openBucket,
  readStoredFile,
  uploadFromStream,
} from '@mp3converter/gridfs';
import { testServers } from '@mp3converter/testkit';
import { MiB } from './lib/stats.ts';

const sizes = process.argv.slice(2).map(Number);
const client = new MongoClient(testServers.mongoUrl);
const db = client.db(`mp3test_bench_${randomUUID().replaceAll('-', '')}`);
const bucket = openBucket(db, 'bench');
const block = randomBytes(MiB);

/** `size` MiB from one reused 1 MiB block: the source itself holds no more than that. */
function source(sizeMiB: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      this.push(sent++ < sizeMiB ? block : null);
    },
  });
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

try {
  await client.connect();
  console.log(`baseline rss ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
  for (const size of sizes.length > 0 ? sizes : [5, 50, 200]) {
    peakRss = 0;
    let start = performance.now();
    const file = await uploadFromStream(bucket, source(size), { filename: `${size}.bin` });
    const up = (performance.now() - start) / 1000;
    start = performance.now();
    let read = 0;
    const stored = await findFile(bucket, file.id);
    if (stored === undefined) throw new Error(`file ${file.id.toHexString()} not found`);
    await pipeline(
      Readable.from(readStoredFile(bucket, stored)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          read += chunk.length;
          done();
        },
      }),
    );
    const down = (performance.now() - start) / 1000;
    if (read !== size * MiB) throw new Error(`read ${read} bytes of ${size * MiB}`);
    await deleteFile(bucket, file.id);
    console.log(
      `${String(size).padStart(4)} MiB  upload ${(size / up).toFixed(0).padStart(4)} MiB/s (${(up * 1000).toFixed(0)} ms)` +
        `  download ${(size / down).toFixed(0).padStart(4)} MiB/s (${(down * 1000).toFixed(0)} ms)` +
        `  peak rss ${(peakRss / MiB).toFixed(0)} MiB`,
    );
  }
} finally {
  clearInterval(sampler);
  await db.dropDatabase();
  await client.close();
}
