import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createLogger } from '@mp3converter/logging';
import { createTestDatabase, testServers, type TestDatabase } from '@mp3converter/testkit';
import { loadAuthConfig, type AuthConfig } from '../src/config.ts';
import { startAuthServer, type AuthServer } from '../src/server.ts';

export const JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const ADMIN = { email: 'admin@example.com', password: 'admin-password-1' };

export function authEnv(
  database: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    MYSQL_HOST: testServers.mysql.host,
    MYSQL_PORT: String(testServers.mysql.port),
    MYSQL_USER: testServers.mysql.user,
    MYSQL_PASSWORD: testServers.mysql.password,
    MYSQL_DATABASE: database,
    JWT_SECRET,
    REGISTRATION_ENABLED: 'true',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ...overrides,
  };
}

export interface TestAuth {
  url: string;
  config: AuthConfig;
  database: TestDatabase;
  server: AuthServer;
  /** Stops the service; the database stays for a restart. */
  stopService(): Promise<void>;
  /** Stops the service and drops its database. */
  stop(): Promise<void>;
}

/** Collects the service's log lines, for tests that look at what is (not) logged. */
export class LogCapture {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

export async function startTestAuth(
  overrides: Record<string, string> = {},
  existing?: TestDatabase,
  { waitReady = true, logTo }: { waitReady?: boolean; logTo?: LogCapture } = {},
): Promise<TestAuth> {
  const database = existing ?? (await createTestDatabase());
  const config = loadAuthConfig(authEnv(database.name, overrides));
  const log =
    logTo === undefined
      ? createLogger({ service: 'auth', level: 'silent' })
      : createLogger({ service: 'auth', level: 'info' }, logTo);
  const server = await startAuthServer(config, log);
  if (waitReady) await server.ready;
  let stopped = false;
  const stopService = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  return {
    url: `http://127.0.0.1:${server.port}`,
    config,
    database,
    server,
    stopService,
    stop: async () => {
      try {
        await stopService();
      } finally {
        await database.drop();
      }
    },
  };
}

/** Runs `work` against a service of its own, stopped and its database dropped afterwards. */
export async function withTestAuth(
  overrides: Record<string, string>,
  work: (auth: TestAuth) => Promise<void>,
): Promise<void> {
  const auth = await startTestAuth(overrides);
  try {
    await work(auth);
  } finally {
    await auth.stop();
  }
}

export function basic(email: string, password: string): string {
  return `Basic ${Buffer.from(`${email}:${password}`, 'utf8').toString('base64')}`;
}

let addressCounter = 0;
/** A distinct client address per call (sent as X-Forwarded-For), so throttling in one test never leaks into another. */
export function clientAddress(): string {
  addressCounter += 1;
  return `198.51.100.${addressCounter % 250}`;
}

/**
 * Sends one request per entry of `requests`, all written in the same tick on
 * connections opened beforehand, so that they reach the server together
 * (separate fetch() calls trickle in as their connections open). Answers the
 * status codes in order.
 */
export async function simultaneousRequests(
  url: string,
  requests: { method: string; path: string; headers: Record<string, string> }[],
): Promise<number[]> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(
    requests.map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => {
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(async (socket) => {
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (head += chunk));
    await once(socket, 'close');
    return Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
  });
  requests.forEach(({ method, path, headers }, i) => {
    const lines = Object.entries({
      ...headers,
      host: 'auth',
      'content-length': '0',
      connection: 'close',
    })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    sockets[i]!.write(`${method} ${path} HTTP/1.1\r\n${lines}\r\n`);
  });
  return Promise.all(answers);
}
