// The bare-driver baseline of benchmarks/system.ts: writes one file into GridFS with the
// `mongodb` driver's own upload stream, nothing else. Prints {"seconds": …} (connected to the
// file stored). Usage: node benchmarks/driver-upload.ts <mongodb url> <file>

import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient } from 'mongodb';

const [url, path] = process.argv.slice(2);
if (url === undefined || path === undefined) {
  throw new Error('usage: node benchmarks/driver-upload.ts <mongodb url> <file>');
}
const client = await MongoClient.connect(url);
try {
  const bucket = new GridFSBucket(client.db('driver_upload'));
  const started = performance.now();
  await pipeline(createReadStream(path), bucket.openUploadStream(basename(path)));
  const seconds = (performance.now() - started) / 1000;
  await client.db('driver_upload').dropDatabase();
  console.log(JSON.stringify({ seconds }));
} finally {
  await client.close();
}
