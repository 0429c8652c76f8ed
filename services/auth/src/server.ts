import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { listen } from '@mp3converter/http';
import type { Logger } from '@mp3converter/logging';
import { ensureAdmin } from './accounts.ts';
import { accountsRoutes } from './accounts.routes.ts';
import { createAuthApp } from './app.ts';
import type { AuthConfig } from './config.ts';
import { Database, isConnectionError } from './database.ts';
import { LoginThrottle } from './login-throttle.ts';
import { Login } from './login.ts';
import { migrate } from './migrations.ts';
import { createDecoyHash } from './passwords.ts';
import { UsersRepository } from './users.repository.ts';

/** Request bodies here are a few hundred bytes: a client slower than this is stalling. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface AuthServer {
  port: number;
  /** Resolves once migrations have run and the admin user exists. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the auth service: the HTTP server answers probes at once, and
 * requests once the database is migrated. A database that is down at start
 * is waited for, not fatal: Kubernetes keeps the pod unready meanwhile.
 */
export async function startAuthServer(config: AuthConfig, log: Logger): Promise<AuthServer> {
  const database = new Database(config.database);
  const users = new UsersRepository(database);
  const login = new Login({
    users,
    throttle: new LoginThrottle(database.limiterStore(), database.name, config.throttle),
    tokens: config.tokens,
    decoyHash: await createDecoyHash(),
    log,
  });
  let ready = false;
  const stopping = new AbortController();

  const app = createAuthApp({
    log,
    trustProxy: config.http.trustProxy,
    routes: accountsRoutes({
      login,
      users,
      tokens: config.tokens,
      registrationEnabled: config.registrationEnabled,
      log,
    }),
    isReady: () => ready,
    checkDatabase: async () => {
      if (!ready) throw new Error('not migrated yet');
      await database.ping();
    },
  });
  const server = await listen(
    app,
    { host: config.http.host, port: config.http.port, timeouts: { requestMs: REQUEST_TIMEOUT_MS } },
    log,
  );

  const prepare = async (): Promise<void> => {
    await untilAvailable(stopping.signal, log, async () => {
      const applied = await migrate(config.database, log.child({ module: 'migrations' }));
      log.info({ applied }, 'database schema is up to date');
      if (config.admin !== undefined) await ensureAdmin(users, config.admin, log);
    });
    if (stopping.signal.aborted) return;
    ready = true;
    log.info('ready');
  };

  return {
    port: server.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      await server.close();
      await database.end();
    },
  };
}

/** Runs `work` until it succeeds, retrying with backoff while the database is unavailable. */
async function untilAvailable(
  signal: AbortSignal,
  log: Logger,
  work: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await work();
      return;
    } catch (error) {
      if (signal.aborted) return;
      if (!(error instanceof DependencyUnavailableError) && !isConnectionError(error)) throw error;
      const delayMs = Math.min(500 * 2 ** Math.min(attempt, 4), 5_000);
      log.warn({ err: error, attempt, delayMs }, 'database unavailable, retrying');
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return; // stopped while waiting
      }
    }
  }
}
