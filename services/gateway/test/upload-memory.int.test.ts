import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { GridFSBucket, type GridFSFile } from 'mongodb';
import { serviceNodeOptions, testServers } from '@mp3converter/testkit';
import { LINK_SECRET, bearer, signUp, startTestSystem, type TestSystem } from './support.ts';

const MiB = 1024 * 1024;
/** The video: 300 MiB, generated while it is sent, never held whole in this process either. */
const FILE_BYTES = 300 * MiB;
const PIECE_BYTES = 256 * 1024;
/**
 * The gateway's resident memory must stay under this during the upload, and rise by less than
 * RSS_GROWTH_LIMIT_BYTES above idle: holding the file, or any sizeable part of it, would pass
 * both by far. Idle, the gateway takes about 125 MiB (Node with type stripping and the
 * service's modules); while bytes stream through, the short-lived buffers (socket reads, the
 * MongoDB driver's two copies of every chunk) add garbage not yet collected, whatever the
 * file's size. A 2 MiB young generation (the gateway's NODE_OPTIONS in scripts/lib/services.sh) keeps that to about 40 MiB
 * (peak about 160 MiB) where V8's default 16 MiB lets it reach 80 MiB (peak about 215 MiB).
 */
const RSS_LIMIT_BYTES = 200 * MiB;
const RSS_GROWTH_LIMIT_BYTES = 96 * MiB;
const RSS_SAMPLE_MS = 100;
const BOUNDARY = '----mp3converter-memory-test-boundary';

type Gateway = ChildProcessByStdio<null, Readable, Readable>;

let system: TestSystem;
let token: string;
let gateway: Gateway;
let gatewayUrl: string;
let gatewayStderr = '';

/** The gateway as it runs in production: its own process, started by its entry file. */
function spawnGateway(): Gateway {
  const { mongo } = system.config;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_URL: system.auth.url,
    MONGO_URL: testServers.mongoUrl,
    MONGO_VIDEOS_DATABASE: mongo.videosDatabase,
    MONGO_MP3S_DATABASE: mongo.mp3sDatabase,
    MONGO_JOBS_DATABASE: mongo.jobsDatabase,
    // The vhost straight, not through the test system's proxy: nothing here cuts the broker.
    AMQP_URL: system.vhost.amqpUrl,
    DOWNLOAD_LINK_SECRET: LINK_SECRET,
    NODE_OPTIONS: serviceNodeOptions('gateway'),
  };
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    gatewayStderr = (gatewayStderr + text).slice(-4000);
  });
  return child;
}

/** Reads the gateway's JSON log lines until it is listening and ready; answers its base URL. */
async function untilReady(child: Gateway, timeoutMs = 20_000): Promise<string> {
  const lines = createInterface({ input: child.stdout });
  let port: number | undefined;
  const ready = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      let entry: { msg?: string; port?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg === 'listening') port = entry.port;
      if (entry.msg === 'ready' && port !== undefined) resolve(`http://127.0.0.1:${port}`);
    });
    child.once('exit', (code) => {
      reject(new Error(`the gateway exited with ${code} before it was ready: ${gatewayStderr}`));
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`the gateway was not ready within ${timeoutMs} ms: ${gatewayStderr}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** The process's resident set size in bytes, from /proc/<pid>/status. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Samples the RSS of `pid` every RSS_SAMPLE_MS until stop() is called; stop() answers the peak. */
function sampleRss(pid: number): { stop(): Promise<{ peak: number; samples: number }> } {
  let peak = 0;
  let samples = 0;
  let failure: unknown;
  const pending = new Set<Promise<void>>();
  const sample = (): void => {
    const reading = residentBytes(pid).then(
      (bytes) => {
        peak = Math.max(peak, bytes);
        samples += 1;
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    pending.add(reading);
    void reading.finally(() => pending.delete(reading));
  };
  sample();
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return {
    stop: async () => {
      clearInterval(timer);
      sample();
      await Promise.all(pending);
      if (failure !== undefined) throw new Error('could not read the RSS', { cause: failure });
      return { peak, samples };
    },
  };
}

before(async () => {
  system = await startTestSystem();
  ({ token } = await signUp(system.url));
  gateway = spawnGateway();
  gatewayUrl = await untilReady(gateway);
});

after(async () => {
  try {
    if (gateway.exitCode === null && gateway.signalCode === null) {
      const exited = once(gateway, 'exit');
      gateway.kill('SIGTERM');
      const killer = setTimeout(() => gateway.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  } finally {
    await system.stop();
  }
});

describe('POST /upload of a large file', () => {
  it('streams 300 MiB into GridFS without holding it in memory', async (t) => {
    const head = Buffer.from(
      `--${BOUNDARY}\r\n` +
        'Content-Disposition: form-data; name="file"; filename="large.mp4"\r\n' +
        'Content-Type: video/mp4\r\n\r\n',
    );
    const tail = Buffer.from(
      `\r\n--${BOUNDARY}\r\n` +
        'Content-Disposition: form-data; name="quality"\r\n\r\n2\r\n' +
        `--${BOUNDARY}--\r\n`,
    );
    const hash = createHash('sha256');
    function* body(): Generator<Buffer> {
      yield head;
      for (let sent = 0; sent < FILE_BYTES; sent += PIECE_BYTES) {
        const piece = randomBytes(Math.min(PIECE_BYTES, FILE_BYTES - sent));
        hash.update(piece);
        yield piece;
      }
      yield tail;
    }

    const req = request(`${gatewayUrl}/upload`, {
      method: 'POST',
      headers: {
        ...bearer(token),
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(head.length + FILE_BYTES + tail.length),
      },
    });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.once('error', reject);
      });
      req.once('error', reject);
    });

    const idle = await residentBytes(gateway.pid!);
    const rss = sampleRss(gateway.pid!);
    const started = performance.now();
    let result: { status: number; body: string };
    let peak: number;
    try {
      [result] = await Promise.all([answer, pipeline(Readable.from(body()), req)]);
    } finally {
      const sampled = await rss.stop();
      peak = sampled.peak;
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(
        `gateway RSS: idle ${mib(idle)}, peak ${mib(peak)} (+${mib(peak - idle)}) ` +
          `in ${sampled.samples} samples; ${(FILE_BYTES / MiB / seconds).toFixed(0)} MiB/s`,
      );
    }
    assert.equal(result.status, 202, result.body);
    assert.ok(peak < RSS_LIMIT_BYTES, `RSS peaked at ${mib(peak)}, over ${mib(RSS_LIMIT_BYTES)}`);
    assert.ok(
      peak - idle < RSS_GROWTH_LIMIT_BYTES,
      `RSS rose by ${mib(peak - idle)}, from ${mib(idle)} to ${mib(peak)}`,
    );
    const sha256 = hash.digest('hex');
    const job = JSON.parse(result.body) as {
      videoFid: string;
      videoSize: number;
      videoSha256: string;
      options: unknown;
    };
    assert.equal(job.videoSize, FILE_BYTES);
    assert.equal(job.videoSha256, sha256);
    assert.deepEqual(job.options, { quality: 2 });

    const stored = await system.videos.collection<GridFSFile>('fs.files').findOne({});
    assert.ok(stored);
    assert.equal(stored._id.toHexString(), job.videoFid);
    assert.equal(stored.length, FILE_BYTES);
    assert.equal(stored.metadata?.sha256, sha256);
    // What is in the chunks, read back independently of the gateway.
    const readBack = createHash('sha256');
    await pipeline(new GridFSBucket(system.videos).openDownloadStream(stored._id), readBack);
    assert.equal(readBack.digest('hex'), sha256);
  });
});
