import { DependencyUnavailableError } from '@mp3converter/errors';
import { serveApp, type HttpService } from '@mp3converter/http';
import { retryUntilAvailable } from '@mp3converter/lifecycle';
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

/** `ready` resolves once migrations have run and the admin user exists. */
export type AuthServer = HttpService;

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
  return serveApp(
    app,
    { host: config.http.host, port: config.http.port, timeouts: { requestMs: REQUEST_TIMEOUT_MS } },
    log,
    {
      prepare: async (signal) => {
        const available = (error: unknown): boolean =>
          error instanceof DependencyUnavailableError || isConnectionError(error);
        const options = { signal, log, dependency: 'mysql', isUnavailable: available };
        await retryUntilAvailable(options, async () => {
          const applied = await migrate(config.database, log.child({ module: 'migrations' }));
          log.info({ applied }, 'database schema is up to date');
          if (config.admin !== undefined) await ensureAdmin(users, config.admin, log);
        });
        if (signal.aborted) return;
        ready = true;
        log.info('ready');
      },
      release: () => database.end(),
    },
  );
}
