import { randomBytes, randomUUID } from 'node:crypto';
import { connectAmqp, type AmqpConnection } from '@mp3converter/amqp';
import {
  CONVERSION_FAILED_QUEUE,
  MP3_QUEUE,
  QUEUE_TOPOLOGY,
  SCHEMA_VERSION,
  type ConversionFailedMessage,
  type Mp3MessageInput,
} from '@mp3converter/contracts';
import { JobStore, mp3FileName, type JobDocument, type JobError } from '@mp3converter/jobs';
import { createLogger } from '@mp3converter/logging';
import {
  InProcessServices,
  Inspector,
  Mailbox,
  createTestVhost,
  startTcpProxy,
  testLogLevel,
  testServers,
  type TcpProxy,
  type TestVhost,
} from '@mp3converter/testkit';
import { MongoClient, ObjectId } from 'mongodb';
import { loadNotificationConfig } from '../src/config.ts';
import { DELIVERIES_COLLECTION, type DeliveryDocument } from '../src/deliveries.ts';
import { startNotifier, type Notifier } from '../src/worker.ts';

export const LINK_SECRET = 'notification-test-download-link-secret-0123456789';
export const PUBLIC_BASE_URL = 'http://mp3converter.test';

export interface JobSpec {
  filename?: string;
  /** The owner's address; a new random one by default, so that the mailbox holds only this test's. */
  email?: string;
  mp3?: { durationSeconds: number; size: number };
  error?: JobError;
}

/**
 * What the notification service works against, private to one test file: its own RabbitMQ
 * vhost, a MongoDB database `mp3test_<id>_jobs`, and the development mailbox reached through
 * a TCP proxy (to take SMTP "down" without stopping the shared mailbox).
 */
export class NotificationTestSystem {
  readonly id = randomBytes(6).toString('hex');
  readonly database = `mp3test_${this.id}_jobs`;
  readonly mongo = new MongoClient(testServers.mongoUrl);
  readonly jobs = new JobStore(this.mongo.db(this.database));
  readonly deliveries = this.mongo
    .db(this.database)
    .collection<DeliveryDocument>(DELIVERIES_COLLECTION);
  readonly mailbox = new Mailbox();
  readonly notifiers = new InProcessServices<Notifier>();
  readonly addresses = new Set<string>();
  vhost!: TestVhost;
  amqp!: AmqpConnection;
  inspector!: Inspector;
  smtp!: TcpProxy;
  /** Sees every chunk the service sends to the SMTP server, before it is forwarded. */
  onSmtpData: ((chunk: Buffer) => void) | undefined;

  static async start(): Promise<NotificationTestSystem> {
    const system = new NotificationTestSystem();
    await system.mongo.connect();
    await system.jobs.ensureIndexes();
    system.vhost = await createTestVhost();
    system.amqp = await connectAmqp({
      url: system.vhost.amqpUrl,
      logger: createLogger({ service: 'test', level: 'silent' }),
      connectionName: 'notification test',
      topology: [QUEUE_TOPOLOGY.mp3, QUEUE_TOPOLOGY.conversionFailed],
    });
    system.inspector = await Inspector.open(system.vhost.amqpUrl);
    system.smtp = await startTcpProxy(testServers.smtp.port, testServers.smtp.host, {
      onData: (chunk, from) => {
        if (from === 'client') system.onSmtpData?.(chunk);
      },
    });
    return system;
  }

  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: testLogLevel,
      HOST: '127.0.0.1',
      PORT: '0',
      MONGO_URL: testServers.mongoUrl,
      MONGO_JOBS_DATABASE: this.database,
      AMQP_URL: this.vhost.amqpUrl,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(this.smtp.port),
      SMTP_TLS: 'none',
      SMTP_TIMEOUT_MS: '3000',
      PUBLIC_BASE_URL,
      DOWNLOAD_LINK_SECRET: LINK_SECRET,
      SHUTDOWN_GRACE_MS: '5000',
      ...overrides,
    };
  }

  /** A notification service in this process, consuming once this resolves. */
  async startNotifier(overrides: Record<string, string> = {}): Promise<Notifier> {
    const config = loadNotificationConfig(this.env(overrides));
    const log = createLogger({ service: 'notification', level: config.logLevel });
    return this.notifiers.start(() => startNotifier(config, log));
  }

  async stopNotifier(notifier: Notifier): Promise<void> {
    await this.notifiers.stop(notifier);
  }

  /** A new address at example.com; its emails are deleted from the mailbox by stop(). */
  address(): string {
    const address = `user-${randomBytes(6).toString('hex')}@example.com`;
    this.addresses.add(address);
    return address;
  }

  /** A job `done` with its MP3 (or `failed` with `error`), as the converter leaves it. */
  async createJob(status: 'done' | 'failed', spec: JobSpec = {}): Promise<JobDocument> {
    const now = new Date();
    const filename = spec.filename ?? 'holiday.mp4';
    const job: JobDocument = {
      _id: randomUUID(),
      ownerId: `owner-${randomBytes(4).toString('hex')}`,
      ownerEmail: spec.email ?? this.address(),
      status,
      progress: status === 'done' ? 100 : 0,
      filename,
      options: { bitrate_kbps: 192 },
      video: { fid: new ObjectId(), size: 1_000_000, contentType: 'video/mp4', sha256: '' },
      ...(status === 'done'
        ? {
            mp3: {
              fid: new ObjectId(),
              size: spec.mp3?.size ?? 4_900_000,
              durationSeconds: spec.mp3?.durationSeconds ?? 205,
              filename: mp3FileName(filename),
            },
          }
        : {
            error: spec.error ?? { code: 'NO_AUDIO_TRACK', message: 'the file has no audio track' },
          }),
      createdAt: now,
      updatedAt: now,
      startedAt: now,
      finishedAt: now,
    };
    await this.jobs.collection.insertOne(job);
    return job;
  }

  /** Publishes the converter's `mp3` message for a done job. */
  async publishDone(job: JobDocument): Promise<void> {
    const mp3 = job.mp3;
    if (mp3 === undefined) throw new Error(`job ${job._id} has no MP3`);
    const message: Mp3MessageInput = {
      ...this.#jobFields(job),
      mp3_fid: mp3.fid.toHexString(),
      mp3_filename: mp3.filename,
      duration_seconds: mp3.durationSeconds,
      size_bytes: mp3.size,
    };
    await this.amqp.publish(MP3_QUEUE, message, { messageId: job._id });
  }

  /** Publishes the converter's `conversion-failed` event for a failed job. */
  async publishFailed(job: JobDocument): Promise<void> {
    const message: ConversionFailedMessage = {
      ...this.#jobFields(job),
      mp3_fid: null,
      error: job.error ?? { code: 'CONVERSION_FAILED', message: 'the conversion failed' },
      failed_at: new Date().toISOString(),
    };
    await this.amqp.publish(CONVERSION_FAILED_QUEUE, message, { messageId: `${job._id}.failed` });
  }

  /** The delivery record of a job's email, if any. */
  async delivery(jobId: string, kind: 'done' | 'failed'): Promise<DeliveryDocument | null> {
    return this.deliveries.findOne({ _id: `${jobId}:${kind}` });
  }

  async stop(): Promise<void> {
    await this.notifiers.stopAll();
    await this.amqp.close();
    await this.inspector.close();
    await this.vhost.drop();
    await this.smtp.close();
    for (const address of this.addresses) await this.mailbox.deleteTo(address);
    await this.mongo.db(this.database).dropDatabase();
    await this.mongo.close();
  }

  #jobFields(job: JobDocument) {
    return {
      schema_version: SCHEMA_VERSION as typeof SCHEMA_VERSION,
      job_id: job._id,
      owner_id: job.ownerId,
      username: job.ownerEmail,
      video_fid: job.video.fid.toHexString(),
      filename: job.filename,
      options: job.options,
      created_at: job.createdAt.toISOString(),
    };
  }
}
