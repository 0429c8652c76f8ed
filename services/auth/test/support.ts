import { createLogger } from '@mp3converter/logging';
import { createTestDatabase, testServers, type TestDatabase } from '@mp3converter/testkit';
import { loadAuthConfig, type AuthConfig } from '../src/config.ts';
import { startAuthService, type AuthService } from '../src/service.ts';

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
  service: AuthService;
  /** Stops the service; the database stays for a restart. */
  stopService(): Promise<void>;
  /** Stops the service and drops its database. */
  stop(): Promise<void>;
}

export async function startTestAuth(
  overrides: Record<string, string> = {},
  existing?: TestDatabase,
  { waitReady = true } = {},
): Promise<TestAuth> {
  const database = existing ?? (await createTestDatabase());
  const config = loadAuthConfig(authEnv(database.name, overrides));
  const service = await startAuthService(
    config,
    createLogger({ service: 'auth', level: 'silent' }),
  );
  if (waitReady) await service.ready;
  let stopped = false;
  const stopService = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await service.stop();
  };
  return {
    url: `http://127.0.0.1:${service.port}`,
    config,
    database,
    service,
    stopService,
    stop: async () => {
      await stopService();
      await database.drop();
    },
  };
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
