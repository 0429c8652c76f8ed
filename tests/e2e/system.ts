// The whole system for end-to-end tests: the four services as separate processes (as pods run
// them) against a RabbitMQ node and a Mongo-wire server of the test's own, which it stops and
// restarts at will, the shared MariaDB (a database of its own) and the shared development
// mailbox behind a TCP proxy (to take SMTP "down"). Everything is removed by stop().

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { deadQueueName } from '@mp3converter/amqp';
import { CONVERSION_FAILED_QUEUE, MP3_QUEUE, VIDEO_QUEUE } from '@mp3converter/contracts';
import { JobStore, type JobDocument } from '@mp3converter/jobs';
import {
  Mailbox,
  createTestDatabase,
  spawnService,
  startTcpProxy,
  testServers,
  waitFor,
  type MailboxEmail,
  type ServiceProcess,
  type SpawnOptions,
  type TcpProxy,
  type TestDatabase,
} from '@mp3converter/testkit';
import amqplib from 'amqplib';
import { waitForJobIn, waitMidConversionIn } from '@mp3converter/converter/testing';
import { GatewayClient } from '@mp3converter/gateway/testing';
import { MongoClient, type Db } from 'mongodb';

const run = promisify(execFile);
const SERVER_SH = fileURLToPath(new URL('../../scripts/lib/server.sh', import.meta.url));

export const LINK_SECRET = 'end-to-end-download-link-secret-0123456789abcdef';
export const JWT_SECRET = 'end-to-end-jwt-secret-that-is-long-enough-0123';
export const MAX_UPLOAD_BYTES = 24 * 1024 * 1024;
const PASSWORD = 'correct horse battery staple';

/**
 * A free loopback port below the kernel's range for outgoing connections (32768 and up), so
 * that no client's connection can take a server's port while the server is down, and outside
 * the range RabbitMQ's command-line tools take (35672-35682).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => {
        resolve(false);
      });
      server.listen(port, '127.0.0.1', () => {
        resolve(true);
      });
    });
    if (!free) continue;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    return port;
  }
}

type ServerName = 'rabbitmq' | 'mongo';

/** A RabbitMQ node and a Mongo-wire server of this test's own, started with scripts/lib/server.sh. */
export class PrivateServers {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly amqpUrl: string;
  readonly managementUrl: string;
  readonly mongoUrl: string;

  private constructor(dir: string, ports: number[]) {
    const [amqp, management, dist, mongo] = ports as [number, number, number, number];
    this.dir = dir;
    this.env = {
      MP3_STATE_DIR: join(dir, 'state'),
      MP3_RABBITMQ_PORT: String(amqp),
      MP3_RABBITMQ_MANAGEMENT_PORT: String(management),
      MP3_RABBITMQ_DIST_PORT: String(dist),
      MP3_RABBITMQ_NODE: `mp3test-${basename(dir).slice(-6)}@localhost`,
      MP3_MONGO_PORT: String(mongo),
    };
    this.amqpUrl = `amqp://guest:guest@127.0.0.1:${amqp}`;
    this.managementUrl = `http://127.0.0.1:${management}`;
    this.mongoUrl = `mongodb://127.0.0.1:${mongo}/?directConnection=true`;
  }

  static async start(): Promise<PrivateServers> {
    const dir = await mkdtemp(join(tmpdir(), 'mp3test-e2e-'));
    const ports: number[] = [];
    while (ports.length < 4) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const servers = new PrivateServers(dir, ports);
    try {
      await servers.start('rabbitmq', 'mongo');
    } catch (error) {
      await servers.close();
      throw error;
    }
    return servers;
  }

  async start(...names: ServerName[]): Promise<void> {
    await this.#script('start', names);
  }

  /** Stops the servers as Kubernetes stops a pod (SIGTERM; RabbitMQ through rabbitmqctl). */
  async stop(...names: ServerName[]): Promise<void> {
    await this.#script('stop', names);
  }

  /** Stops both servers and removes their data; if stopping fails, the directory (with the
   * pid files) stays, for the leftovers check to report and a person to stop them by. */
  async close(): Promise<void> {
    await this.stop('rabbitmq', 'mongo');
    await rm(this.dir, { recursive: true, force: true });
  }

  async #script(action: 'start' | 'stop', names: ServerName[]): Promise<void> {
    try {
      await run('bash', [SERVER_SH, action, ...names], {
        // The scripts run with this process's environment (HOME, PATH), the ports moved.
        env: { ...process.env, ...this.env },
        timeout: 300_000,
      });
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`server.sh ${action} ${names.join(' ')} failed:\n${stdout}${stderr}`, {
        cause: error,
      });
    }
  }
}

export interface User {
  email: string;
  password: string;
  token: string;
}

/** An upload the gateway accepted (202). */
export interface Accepted {
  jobId: string;
  email: string;
}

export interface SmtpTap {
  onData?: (chunk: Buffer) => void;
}

export interface SystemOptions {
  converters?: number;
  /** Environment overrides per service, e.g. `{ gateway: { MAX_UPLOAD_BYTES: '…' } }`. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** How each service is started (from an image's files, say); from the repository by default. */
  launch?: (service: ServiceName) => SpawnOptions;
}

export type ServiceName = 'auth' | 'gateway' | 'converter' | 'notification';

export class EndToEndSystem {
  readonly servers: PrivateServers;
  readonly database: TestDatabase;
  readonly smtp: TcpProxy;
  /** In front of the private RabbitMQ for the notification service alone. */
  readonly notificationAmqp: TcpProxy;
  readonly mongo: MongoClient;
  readonly jobs: JobStore;
  readonly mailbox = new Mailbox();
  readonly tempRoot: string;
  /** Sees every chunk the notification service sends to the SMTP server. */
  readonly smtpTap: SmtpTap;
  readonly addresses = new Set<string>();
  /** Every process ever started, dead ones included (their logs count). */
  readonly processes: ServiceProcess[] = [];
  overrides: SystemOptions['env'] = {};
  launch: SystemOptions['launch'];
  auth!: ServiceProcess;
  gateway!: ServiceProcess;
  notification!: ServiceProcess;
  converters: ServiceProcess[] = [];

  private constructor(
    servers: PrivateServers,
    database: TestDatabase,
    smtp: TcpProxy,
    smtpTap: SmtpTap,
    notificationAmqp: TcpProxy,
    tempRoot: string,
  ) {
    this.servers = servers;
    this.database = database;
    this.smtp = smtp;
    this.smtpTap = smtpTap;
    this.notificationAmqp = notificationAmqp;
    this.tempRoot = tempRoot;
    this.mongo = new MongoClient(servers.mongoUrl);
    this.jobs = new JobStore(this.mongo.db('mp3converter'));
  }

  static async start({
    converters = 1,
    env = {},
    launch,
  }: SystemOptions = {}): Promise<EndToEndSystem> {
    const servers = await PrivateServers.start();
    const cleanup: (() => Promise<void>)[] = [() => servers.close()];
    try {
      const database = await createTestDatabase();
      cleanup.push(() => database.drop());
      const smtpTap: SmtpTap = {};
      const smtp = await startTcpProxy(testServers.smtp.port, testServers.smtp.host, {
        onData: (chunk, from) => {
          if (from === 'client') smtpTap.onData?.(chunk);
        },
      });
      cleanup.push(() => smtp.close());
      const amqpPort = Number(new URL(servers.amqpUrl).port);
      const notificationAmqp = await startTcpProxy(amqpPort);
      cleanup.push(() => notificationAmqp.close());
      const tempRoot = await mkdtemp(join(tmpdir(), 'mp3test-e2e-work-'));
      cleanup.push(() => rm(tempRoot, { recursive: true, force: true }));
      const system = new EndToEndSystem(
        servers,
        database,
        smtp,
        smtpTap,
        notificationAmqp,
        tempRoot,
      );
      system.overrides = env;
      system.launch = launch;
      cleanup.push(async () => {
        await Promise.all(system.processes.map((running) => running.kill('SIGKILL')));
      });
      await system.mongo.connect();
      cleanup.push(() => system.mongo.close());
      system.auth = await system.startService('auth');
      system.gateway = await system.startService('gateway');
      system.notification = await system.startService('notification');
      for (let n = 0; n < converters; n++) await system.startConverter();
      return system;
    } catch (error) {
      for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
      throw error;
    }
  }

  get url(): string {
    return this.gateway.url;
  }

  /** The gateway's API without a token (`api.as(user.token)` for a user's); follows restarts. */
  get api(): GatewayClient {
    return new GatewayClient(this);
  }

  get videos(): Db {
    return this.mongo.db('videos');
  }

  get mp3s(): Db {
    return this.mongo.db('mp3s');
  }

  /** The environment of `service`, as its Kubernetes manifest would give it. */
  env(service: ServiceName, port = 0): Record<string, string> {
    return { ...this.#baseEnv(service, port), ...this.overrides?.[service] };
  }

  #baseEnv(service: ServiceName, port: number): Record<string, string> {
    const common = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      MONGO_URL: this.servers.mongoUrl,
      AMQP_URL: this.servers.amqpUrl,
    };
    switch (service) {
      case 'auth':
        return {
          NODE_ENV: 'test',
          LOG_LEVEL: 'info',
          HOST: '127.0.0.1',
          PORT: String(port),
          MYSQL_HOST: testServers.mysql.host,
          MYSQL_PORT: String(testServers.mysql.port),
          MYSQL_USER: testServers.mysql.user,
          MYSQL_PASSWORD: testServers.mysql.password,
          MYSQL_DATABASE: this.database.name,
          JWT_SECRET,
          REGISTRATION_ENABLED: 'true',
          ADMIN_EMAIL: 'admin@example.com',
          ADMIN_PASSWORD: 'end-to-end-admin-password',
        };
      case 'gateway':
        return {
          ...common,
          AUTH_URL: this.auth.url,
          DOWNLOAD_LINK_SECRET: LINK_SECRET,
          MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
        };
      case 'converter':
        return { ...common, TEMP_DIR: this.tempRoot, SHUTDOWN_GRACE_MS: '10000' };
      case 'notification':
        return {
          ...common,
          AMQP_URL: `amqp://guest:guest@127.0.0.1:${this.notificationAmqp.port}`,
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(this.smtp.port),
          SMTP_TLS: 'none',
          SMTP_TIMEOUT_MS: '5000',
          PUBLIC_BASE_URL: this.url,
          DOWNLOAD_LINK_SECRET: LINK_SECRET,
          SHUTDOWN_GRACE_MS: '5000',
        };
    }
  }

  async startService(service: ServiceName, port = 0): Promise<ServiceProcess> {
    const started = await spawnService(service, this.env(service, port), this.launch?.(service));
    this.processes.push(started);
    return started;
  }

  async startConverter(): Promise<ServiceProcess> {
    const converter = await this.startService('converter');
    this.converters.push(converter);
    return converter;
  }

  /** Stops a service (SIGTERM, or `signal`) and starts it again on the same port. */
  async restart(
    service: 'auth' | 'gateway' | 'notification',
    {
      signal = 'SIGTERM',
      between,
    }: { signal?: NodeJS.Signals; between?: () => Promise<void> | void } = {},
  ): Promise<ServiceProcess> {
    const running = this[service];
    await running.kill(signal);
    await between?.();
    const started = await this.startService(service, running.port);
    this[service] = started;
    return started;
  }

  /** SIGKILLs a converter; it is replaced by a new one, as its Deployment would. */
  async killConverter(converter: ServiceProcess): Promise<ServiceProcess> {
    await converter.kill('SIGKILL');
    this.converters = this.converters.filter((running) => running !== converter);
    return this.startConverter();
  }

  /** A new account (registered and logged in through the gateway). */
  async signUp(): Promise<User> {
    const email = `e2e-${randomBytes(6).toString('hex')}@example.com`;
    this.addresses.add(email);
    const credentials = { email, password: PASSWORD };
    await this.api.register(credentials);
    const { body: token } = await this.api.login(credentials);
    return { ...credentials, token };
  }

  /** Uploads `content` as `filename`; answers the response, whatever its status (JSON or text). */
  async upload(
    user: User,
    content: Uint8Array,
    filename = 'clip.mp4',
    fields: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const { status, headers, body } = await this.api
      .as(user.token)
      .upload(
        { content, filename, fields },
        { expectedStatus: 'any', signal: AbortSignal.timeout(60_000) },
      );
    return {
      status,
      headers,
      body: typeof body === 'string' ? { text: body } : body,
    };
  }

  /** Uploads and expects 202; answers the accepted job. */
  async accept(user: User, content: Uint8Array, filename = 'clip.mp4'): Promise<Accepted> {
    const answer = await this.upload(user, content, filename);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return { jobId: String(answer.body.jobId), email: user.email };
  }

  async waitForJob(
    jobId: string,
    statuses: JobDocument['status'][] = ['done', 'failed'],
    timeoutMs = 60_000,
  ): Promise<JobDocument> {
    return waitForJobIn(this.jobs, jobId, statuses, timeoutMs);
  }

  /** Waits until ffmpeg is working on the job, far from finished. */
  async waitMidConversion(jobId: string): Promise<void> {
    await waitMidConversionIn(this.jobs, jobId);
  }

  /** Every process's log lines about `jobId`, one per line, for assertion messages. */
  logsOf(jobId: string): string {
    const lines: string[] = [];
    for (const running of this.processes) {
      for (const line of running.logs) {
        if (line.jobId !== jobId) continue;
        const err = line.err as { message?: string } | undefined;
        lines.push(
          `  ${String(line.time)} ${running.service}[${running.child.pid}] ${String(line.msg)}` +
            (err?.message === undefined ? '' : `: ${err.message}`),
        );
      }
    }
    return `\nlogs of job ${jobId}:\n${lines.join('\n')}`;
  }

  /** How many times any converter that ever ran logged `msg` for `jobId`. */
  converterLogCount(jobId: string, msg: 'conversion started' | 'conversion finished'): number {
    return this.processes
      .filter((running) => running.service === 'converter')
      .flatMap((running) => running.logs)
      .filter((line) => line.msg === msg && line.jobId === jobId).length;
  }

  /** The converters (of all that ever ran) that finished at least one of `jobIds`. */
  convertersThatWorked(jobIds: string[]): number {
    return this.processes.filter(
      (running) =>
        running.service === 'converter' &&
        running.logs.some(
          (line) => line.msg === 'conversion finished' && jobIds.includes(String(line.jobId)),
        ),
    ).length;
  }

  /**
   * The invariant of every scenario: each accepted upload ends `done` with exactly one MP3,
   * converted once, and exactly one email, or `failed` with a reason and one failure email;
   * nothing dead-lettered, no orphan files or chunks in GridFS, no temp files left.
   */
  async assertSettled(
    accepted: Accepted[],
    timeoutMs = 90_000,
    { emailTotals = true }: { emailTotals?: boolean } = {},
  ): Promise<JobDocument[]> {
    const settled: JobDocument[] = [];
    for (const { jobId } of accepted)
      settled.push(await this.waitForJob(jobId, undefined, timeoutMs));
    // Every email of these jobs is final once its delivery record is: no second one can follow.
    const deliveries = this.mongo
      .db('mp3converter')
      .collection<{ _id: string; state: string }>('notifications');
    await waitFor(
      async () => {
        const ids = settled.map((job) => `${job._id}:${job.status === 'done' ? 'done' : 'failed'}`);
        const final = await deliveries.countDocuments({ _id: { $in: ids }, state: 'sent' });
        return final === ids.length;
      },
      { timeoutMs, intervalMs: 200, what: 'every email of these jobs to be sent' },
    );
    const byAddress = new Map<string, MailboxEmail[]>();
    for (const { email } of accepted) {
      if (!byAddress.has(email)) byAddress.set(email, await this.mailbox.emailsTo(email));
    }
    // Each address has one email per job of its owner, whatever else was uploaded before.
    const jobsCollection = this.mongo.db('mp3converter').collection<JobDocument>('jobs');
    for (const [address, emails] of emailTotals ? byAddress : []) {
      const jobs = await jobsCollection.countDocuments({ ownerEmail: address });
      assert.equal(emails.length, jobs, `${address}: ${emails.length} emails for ${jobs} jobs`);
    }
    for (const [index, job] of settled.entries()) {
      const { email } = accepted[index]!;
      const kind = job.status === 'done' ? 'done' : 'failed';
      // Every email of the job, of either kind: exactly one, of the kind its outcome calls for.
      const mine = byAddress
        .get(email)!
        .filter((message) => message.headers['message-id']?.startsWith(`<${job._id}.`));
      assert.deepEqual(
        mine.map((message) => message.headers['message-id']?.split('@')[0]),
        [`<${job._id}.${kind}`],
        `job ${job._id} (${job.status}): ${mine.length} emails${this.logsOf(job._id)}`,
      );
      const mp3Files = await this.mp3s
        .collection('fs.files')
        .countDocuments({ 'metadata.job_id': job._id });
      if (job.status === 'done') {
        assert.equal(mp3Files, 1, `job ${job._id}: ${mp3Files} MP3 files${this.logsOf(job._id)}`);
        assert.equal(
          this.converterLogCount(job._id, 'conversion finished'),
          1,
          `job ${job._id} converted more than once${this.logsOf(job._id)}`,
        );
      } else {
        assert.equal(mp3Files, 0, `failed job ${job._id} has an MP3`);
        assert.ok(job.error?.code, `failed job ${job._id} has no error code`);
        assert.ok(job.error.message.length > 0, `failed job ${job._id} has no reason`);
      }
    }
    await this.assertClean();
    return settled;
  }

  /** Every job ended, no dead letters, no GridFS file without its job, no chunk without its file, no temp files. */
  async assertClean(): Promise<void> {
    // No job left behind: each ended, none half-deleted.
    const unfinished = await this.mongo
      .db('mp3converter')
      .collection<JobDocument>('jobs')
      .find({ $or: [{ status: { $nin: ['done', 'failed'] } }, { deletedAt: { $exists: true } }] })
      .toArray();
    assert.deepEqual(
      unfinished.map((job) => `${job._id}: ${job.status}${job.deletedAt ? ' (deleted)' : ''}`),
      [],
      'jobs that did not end',
    );
    const connection = await amqplib.connect(this.servers.amqpUrl);
    try {
      const channel = await connection.createChannel();
      for (const queue of [VIDEO_QUEUE, MP3_QUEUE, CONVERSION_FAILED_QUEUE]) {
        const dead = await channel.checkQueue(deadQueueName(queue));
        assert.equal(dead.messageCount, 0, `${dead.messageCount} dead letter(s) of ${queue}`);
      }
    } finally {
      await connection.close();
    }
    const jobIds = new Set(
      (
        await this.mongo
          .db('mp3converter')
          .collection('jobs')
          .find({}, { projection: { _id: 1 } })
          .toArray()
      ).map((job) => String(job._id)),
    );
    for (const db of [this.videos, this.mp3s]) {
      const files = await db
        .collection<{ _id: unknown; metadata?: { job_id?: string } }>('fs.files')
        .find({})
        .toArray();
      const orphans = files.filter((file) => !jobIds.has(String(file.metadata?.job_id)));
      assert.deepEqual(orphans, [], `${db.databaseName}: files of no job`);
      const chunks = await db
        .collection('fs.chunks')
        .countDocuments({ files_id: { $nin: files.map((file) => file._id) } });
      assert.equal(chunks, 0, `${db.databaseName}: chunks of no file`);
    }
    assert.deepEqual(await this.tempFiles(), [], "files left in the converters' temp directory");
  }

  /**
   * Files in the converters' temp directory other than the (empty) work directories of the
   * converters running now; a killed converter's directory is removed by the next one to start.
   */
  async tempFiles(): Promise<string[]> {
    const live = new Set(this.converters.map((converter) => converter.child.pid));
    const found: string[] = [];
    for (const entry of await readdir(this.tempRoot, { withFileTypes: true })) {
      const pid = /^work-.+-(\d+)$/.exec(entry.name)?.[1];
      if (entry.isDirectory() && pid !== undefined && live.has(Number(pid))) {
        for (const inner of await readdir(join(this.tempRoot, entry.name))) {
          found.push(join(entry.name, inner));
        }
      } else {
        found.push(entry.name);
      }
    }
    return found;
  }

  async stop(): Promise<void> {
    const alive = this.processes.filter(
      (running) => running.child.exitCode === null && running.child.signalCode === null,
    );
    await Promise.all(alive.map((running) => running.kill('SIGKILL')));
    const steps = [
      () => this.mongo.close(),
      () => this.smtp.close(),
      () => this.notificationAmqp.close(),
      () => this.servers.close(),
      () => this.database.drop(),
      () => rm(this.tempRoot, { recursive: true, force: true }),
      async () => {
        for (const address of this.addresses) await this.mailbox.deleteTo(address);
      },
    ];
    const errors: unknown[] = [];
    for (const step of steps) await step().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'stopping the end-to-end system');
  }
}

/** Asserts that every job is `done` (naming those that are not). */
export function assertAllDone(jobs: JobDocument[]): void {
  assert.deepEqual(
    jobs.filter((job) => job.status !== 'done').map((job) => `${job._id}: ${job.status}`),
    [],
  );
}

export async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}
