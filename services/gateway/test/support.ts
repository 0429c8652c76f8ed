import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '@mp3converter/logging';
import {
  createTestVhost,
  startTcpProxy,
  testLogLevel,
  testServers,
  type TcpProxy,
  type TestVhost,
} from '@mp3converter/testkit';
import { MongoClient, type Db } from 'mongodb';
import { basic, startTestAuth, type TestAuth } from '@mp3converter/auth/testing';
import { loadGatewayConfig, type GatewayConfig } from '../src/config.ts';
import { startGateway, type GatewayServer } from '../src/server.ts';
import { GatewayClient, videoForm as apiVideoForm } from './api-client.ts';

export { basic };
export const LINK_SECRET = 'test-download-link-secret-of-32-bytes-or-more';

export interface TestSystem {
  /** The gateway's base URL. */
  url: string;
  /** A client of the gateway's API, without a token (`api.as(token)` for a user's). */
  api: GatewayClient;
  auth: TestAuth;
  gateway: GatewayServer;
  config: GatewayConfig;
  vhost: TestVhost;
  /** In front of RabbitMQ (cut it to take the broker "down" for the gateway alone). */
  amqpProxy: TcpProxy;
  /** A client of this system's databases, to look behind the API. */
  mongo: MongoClient;
  videos: Db;
  mp3s: Db;
  jobsDb: Db;
  /** Stops the gateway (not auth); `startGatewayAgain` brings it back on the same data. */
  restartGateway(overrides?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  /** Gateway environment overrides (e.g. MAX_UPLOAD_BYTES). */
  env?: Record<string, string>;
  /** Auth environment overrides (e.g. LOGIN_MAX_FAILURES_PER_IP). */
  authEnv?: Record<string, string>;
}

/**
 * A gateway with its own auth service (own MySQL database), own MongoDB databases
 * (`mp3test_<id>_videos`, `_mp3s`, `_jobs`) and own RabbitMQ vhost, so test files never
 * see each other's data; everything is removed by stop().
 */
export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  const id = randomBytes(6).toString('hex');
  const auth = await startTestAuth(options.authEnv);
  const vhost = await createTestVhost();
  const amqp = new URL(testServers.amqpUrl);
  const amqpProxy = await startTcpProxy(Number(amqp.port || 5672), amqp.hostname);
  const proxiedAmqp = new URL(vhost.amqpUrl);
  proxiedAmqp.hostname = '127.0.0.1';
  proxiedAmqp.port = String(amqpProxy.port);
  const mongo = new MongoClient(testServers.mongoUrl);
  await mongo.connect();
  const names = {
    videos: `mp3test_${id}_videos`,
    mp3s: `mp3test_${id}_mp3s`,
    jobs: `mp3test_${id}_jobs`,
  };
  const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_URL: auth.url,
    MONGO_URL: testServers.mongoUrl,
    MONGO_VIDEOS_DATABASE: names.videos,
    MONGO_MP3S_DATABASE: names.mp3s,
    MONGO_JOBS_DATABASE: names.jobs,
    AMQP_URL: proxiedAmqp.toString(),
    DOWNLOAD_LINK_SECRET: LINK_SECRET,
    ...options.env,
    ...overrides,
  });
  const log = createLogger({ service: 'gateway', level: testLogLevel });

  let config = loadGatewayConfig(env());
  let gateway = await startGateway(config, log);
  await gateway.ready;

  const system: TestSystem = {
    url: `http://127.0.0.1:${gateway.port}`,
    get api() {
      return new GatewayClient(system);
    },
    auth,
    gateway,
    config,
    vhost,
    amqpProxy,
    mongo,
    videos: mongo.db(names.videos),
    mp3s: mongo.db(names.mp3s),
    jobsDb: mongo.db(names.jobs),
    restartGateway: async (overrides) => {
      await gateway.stop();
      config = loadGatewayConfig(env(overrides));
      gateway = await startGateway(config, log);
      await gateway.ready;
      Object.assign(system, { gateway, config, url: `http://127.0.0.1:${gateway.port}` });
    },
    stop: async () => {
      try {
        await gateway.stop();
      } finally {
        await auth.stop();
        await amqpProxy.close();
        await vhost.drop();
        for (const db of Object.values(names)) await mongo.db(db).dropDatabase();
        await mongo.close();
      }
    },
  };
  return system;
}

/** Registers a new user through the gateway and answers their email, password and token. */
export async function signUp(
  url: string,
): Promise<{ email: string; password: string; token: string }> {
  const api = new GatewayClient({ url });
  const credentials = {
    email: `user-${randomUUID()}@example.com`,
    password: 'correct horse battery staple',
  };
  await api.register(credentials);
  const { body: token } = await api.login(credentials);
  return { ...credentials, token };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** A multipart form with one file (and optional text fields), as `curl -F` sends it. */
export function videoForm(
  content: Uint8Array,
  options: { filename?: string; type?: string; fields?: Record<string, string> } = {},
): FormData {
  return apiVideoForm({ content, ...options });
}
