import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connectAmqp, type AmqpConnection } from '@mp3converter/amqp';
import {
  QUEUE_TOPOLOGY,
  VIDEO_QUEUE,
  type ConversionOptions,
  type VideoMessageInput,
} from '@mp3converter/contracts';
import { openBucket, uploadFromStream, type FileBucket } from '@mp3converter/gridfs';
import {
  JobStore,
  ensureJobFileIndex,
  type JobDocument,
  type JobFileMetadata,
  type JobStatus,
} from '@mp3converter/jobs';
import { createLogger } from '@mp3converter/logging';
import {
  InProcessServices,
  createTestVhost,
  spawnService,
  testServers,
  waitFor,
  type ServiceProcess,
  type TestVhost,
} from '@mp3converter/testkit';
import amqplib from 'amqplib';
import { MongoClient } from 'mongodb';
import { loadConverterConfig } from '../src/config.ts';
import { checkFfmpeg, locateFfmpeg } from '../src/ffmpeg/index.ts';
import { startConverter, type Converter } from '../src/worker.ts';

/** A converter run as its own process, as a pod would run it. */
export type ConverterProcess = ServiceProcess;

export interface TakenMessage {
  body: unknown;
  messageId: unknown;
}

/** How many messages a converter's /metrics counts with `outcome`. */
export async function outcomes(port: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const found = new RegExp(`^conversions_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return Number(found?.[1] ?? Number.NaN);
}

export interface SubmitOptions {
  filename?: string;
  options?: ConversionOptions;
  ownerId?: string;
}

/**
 * What the converter works against, private to one test file: its own RabbitMQ vhost,
 * MongoDB databases `mp3test_<id>_*`, and temp directory. Jobs are submitted the way the
 * gateway does it: video in GridFS, job `queued`, `video` message confirmed.
 */
export class ConverterTestSystem {
  readonly id = randomBytes(6).toString('hex');
  readonly databases = {
    videos: `mp3test_${this.id}_videos`,
    mp3s: `mp3test_${this.id}_mp3s`,
    jobs: `mp3test_${this.id}_jobs`,
  };
  readonly mongo = new MongoClient(testServers.mongoUrl);
  readonly videos: FileBucket = openBucket(this.mongo.db(this.databases.videos), 'fs');
  readonly mp3s: FileBucket = openBucket(this.mongo.db(this.databases.mp3s), 'fs');
  readonly jobs = new JobStore(this.mongo.db(this.databases.jobs));
  readonly processes = new Set<ConverterProcess>();
  readonly inProcess = new InProcessServices<Converter>();
  vhost!: TestVhost;
  amqp!: AmqpConnection;
  tempRoot!: string;

  static async start(): Promise<ConverterTestSystem> {
    const system = new ConverterTestSystem();
    await system.mongo.connect();
    await system.jobs.ensureIndexes();
    await ensureJobFileIndex(system.videos.files);
    await ensureJobFileIndex(system.mp3s.files);
    system.vhost = await createTestVhost();
    system.amqp = await connectAmqp({
      url: system.vhost.amqpUrl,
      logger: createLogger({ service: 'test', level: 'silent' }),
      connectionName: 'converter test',
      topology: [QUEUE_TOPOLOGY.video, QUEUE_TOPOLOGY.mp3, QUEUE_TOPOLOGY.conversionFailed],
    });
    system.tempRoot = await mkdtemp(join(tmpdir(), 'mp3test-converter-'));
    return system;
  }

  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      MONGO_URL: testServers.mongoUrl,
      MONGO_VIDEOS_DATABASE: this.databases.videos,
      MONGO_MP3S_DATABASE: this.databases.mp3s,
      MONGO_JOBS_DATABASE: this.databases.jobs,
      AMQP_URL: this.vhost.amqpUrl,
      TEMP_DIR: join(this.tempRoot, 'work'),
      SHUTDOWN_GRACE_MS: '10000',
      ...overrides,
    };
  }

  /** A converter in this process (fast to start; for tests that do not kill it). */
  async startInProcess(overrides: Record<string, string> = {}): Promise<Converter> {
    const config = loadConverterConfig(this.env({ LOG_LEVEL: 'silent', ...overrides }));
    const ffmpeg = await checkFfmpeg(locateFfmpeg(config.ffmpeg.path, config.ffmpeg.searchPath));
    const log = createLogger({ service: 'converter', level: config.logLevel });
    return this.inProcess.start(() => startConverter(config, ffmpeg, log));
  }

  async stopInProcess(converter: Converter): Promise<void> {
    await this.inProcess.stop(converter);
  }

  /** A converter process; resolves once it consumes `video`. */
  async spawnConverter(overrides: Record<string, string> = {}): Promise<ConverterProcess> {
    const running = await spawnService('converter', this.env(overrides));
    this.processes.add(running);
    void running.exited.then(() => this.processes.delete(running));
    return running;
  }

  /** Stores the video, creates its job and publishes its message, as the gateway does. */
  async submit(path: string, submitted: SubmitOptions = {}): Promise<string> {
    const jobId = randomUUID();
    const ownerId = submitted.ownerId ?? 'user-1';
    const filename = submitted.filename ?? basename(path);
    const options = submitted.options ?? { bitrate_kbps: 192 };
    const metadata: JobFileMetadata = { job_id: jobId, owner_id: ownerId, original_name: filename };
    const file = await uploadFromStream(this.videos, createReadStream(path), {
      filename,
      metadata,
      contentType: 'video/mp4',
      sha256: true,
    });
    await this.jobs.create({
      id: jobId,
      ownerId,
      ownerEmail: `${ownerId}@example.com`,
      filename,
      options,
      video: {
        fid: file.id,
        size: file.length,
        contentType: 'video/mp4',
        sha256: file.sha256 ?? '',
      },
    });
    const message: VideoMessageInput = {
      schema_version: 1,
      job_id: jobId,
      owner_id: ownerId,
      username: `${ownerId}@example.com`,
      video_fid: file.id.toHexString(),
      mp3_fid: null,
      filename,
      options,
      created_at: new Date().toISOString(),
    };
    await this.amqp.publish(VIDEO_QUEUE, message, { messageId: jobId });
    return jobId;
  }

  /** Waits until the job reaches one of `statuses`. */
  async waitForJob(
    jobId: string,
    statuses: readonly JobStatus[] = ['done', 'failed'],
    timeoutMs = 60_000,
  ): Promise<JobDocument> {
    return waitForJobIn(this.jobs, jobId, statuses, timeoutMs);
  }

  /** Waits until ffmpeg is running on the job: progress recorded, far from finished. */
  async waitMidConversion(jobId: string): Promise<void> {
    await waitMidConversionIn(this.jobs, jobId);
  }

  /** Takes every message now in `queue` (they are gone afterwards), parsed. */
  async takeMessages(queue: string): Promise<TakenMessage[]> {
    return this.#withChannel(async (channel) => {
      const taken: TakenMessage[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) return taken;
        taken.push({
          body: JSON.parse(message.content.toString()) as unknown,
          messageId: message.properties.messageId as unknown,
        });
      }
    });
  }

  /** Takes messages from `queue` until `count` have arrived; fails after `timeoutMs`. */
  async waitForMessages(queue: string, count: number, timeoutMs = 30_000): Promise<TakenMessage[]> {
    const taken: TakenMessage[] = [];
    await waitFor(
      async () => {
        taken.push(...(await this.takeMessages(queue)));
        return taken.length >= count;
      },
      { timeoutMs, intervalMs: 50, what: `${count} message(s) in ${queue}` },
    );
    return taken;
  }

  /** Messages ready in `queue` now (exact, unlike the management API's sampled counts). */
  async readyCount(queue: string): Promise<number> {
    return this.#withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
  }

  async #withChannel<T>(use: (channel: amqplib.Channel) => Promise<T>): Promise<T> {
    const connection = await amqplib.connect(this.vhost.amqpUrl);
    try {
      return await use(await connection.createChannel());
    } finally {
      await connection.close();
    }
  }

  /** GridFS files of the job in `mp3s`, and chunks in `mp3s` that no file owns (any job's). */
  async mp3Files(jobId: string): Promise<{ files: number; orphanChunks: number }> {
    const files = await this.mp3s.files.countDocuments({ 'metadata.job_id': jobId });
    const all = await this.mp3s.files.find({}, { projection: { _id: 1 } }).toArray();
    const orphanChunks = await this.mp3s.chunks.countDocuments({
      files_id: { $nin: all.map((file) => file._id) },
    });
    return { files, orphanChunks };
  }

  /** Files left in the converters' temp directory (their per-process directories excluded). */
  async tempFiles(): Promise<string[]> {
    const root = join(this.tempRoot, 'work');
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (dir !== root) found.push(path);
          await walk(path);
        } else found.push(path);
      }
    };
    await walk(root);
    return found;
  }

  async stop(): Promise<void> {
    for (const running of this.processes) running.child.kill('SIGKILL');
    await Promise.all([...this.processes].map((running) => running.exited));
    await this.inProcess.stopAll();
    await this.amqp.close();
    await this.vhost.drop();
    for (const name of Object.values(this.databases)) await this.mongo.db(name).dropDatabase();
    await this.mongo.close();
    await rm(this.tempRoot, { recursive: true, force: true });
  }
}

/** Waits until the job in `jobs` reaches one of `statuses` (the end-to-end tests use it too). */
export async function waitForJobIn(
  jobs: JobStore,
  jobId: string,
  statuses: readonly JobStatus[] = ['done', 'failed'],
  timeoutMs = 60_000,
): Promise<JobDocument> {
  return waitFor(
    async () => {
      const job = await jobs.findAny(jobId);
      return job !== undefined && statuses.includes(job.status) ? job : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `job ${jobId} to be ${statuses.join(' or ')}` },
  );
}

/** Waits until ffmpeg is running on the job: progress recorded, far from finished. */
export async function waitMidConversionIn(jobs: JobStore, jobId: string): Promise<void> {
  await waitFor(
    async () => {
      const job = await jobs.findAny(jobId);
      return job?.status === 'converting' && job.progress > 0 && job.progress < 80;
    },
    { timeoutMs: 30_000, intervalMs: 20, what: `job ${jobId} mid-conversion` },
  );
}

/** Bytes of a file on disk. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
