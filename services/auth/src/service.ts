import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@mp3converter/logging';
import { listen, type RunningServer } from '@mp3converter/http';
import { createAuthApp } from './app.ts';
import type { AuthConfig } from './config.ts';
import { createPool, isConnectionError } from './database.ts';
import { LoginThrottle } from './login-throttle.ts';
import { migrate } from './migrations.ts';
import { createDecoyHash, hashPassword } from './passwords.ts';
import { UsersRepository } from './users.repository.ts';

export interface AuthService {
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
export async function startAuthService(config: AuthConfig, log: Logger): Promise<AuthService> {
  const pool = createPool(config);
  const users = new UsersRepository(pool);
  let ready = false;
  const stopping = new AbortController();

  const server: RunningServer = await listen(
    createAuthApp({
      log,
      users,
      throttle: new LoginThrottle(pool, config.MYSQL_DATABASE, {
        maxFailuresPerEmail: config.LOGIN_MAX_FAILURES_PER_EMAIL,
        maxFailuresPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
        windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
      }),
      tokens: {
        secret: config.JWT_SECRET,
        ttlSeconds: config.JWT_TTL_SECONDS,
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
      },
      decoyHash: await createDecoyHash(),
      registrationEnabled: config.REGISTRATION_ENABLED,
      trustProxy: config.TRUST_PROXY,
      isReady: () => ready,
      checkDatabase: async () => {
        if (!ready) throw new Error('not migrated yet');
        await pool.query('SELECT 1');
      },
    }),
    { host: config.HOST, port: config.PORT },
    log,
  );

  const prepare = async (): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const applied = await migrate(config, log.child({ module: 'migrations' }));
        log.info({ applied }, 'database schema is up to date');
        break;
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (!isConnectionError(error)) throw error;
        const delayMs = Math.min(500 * 2 ** Math.min(attempt, 4), 5_000);
        log.warn({ err: error, attempt, delayMs }, 'database unavailable, retrying');
        try {
          await sleep(delayMs, undefined, { signal: stopping.signal });
        } catch {
          return; // stopped while waiting
        }
      }
    }
    if (config.ADMIN_EMAIL !== undefined && config.ADMIN_PASSWORD !== undefined) {
      await ensureAdmin(users, config.ADMIN_EMAIL, config.ADMIN_PASSWORD, log);
    }
    ready = true;
    log.info('ready');
  };

  return {
    port: server.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      await server.close();
      await pool.end();
    },
  };
}

/** Creates the configured admin once; an existing account is left as it is. */
async function ensureAdmin(
  users: UsersRepository,
  email: string,
  password: string,
  log: Logger,
): Promise<void> {
  const existing = await users.findByEmail(email);
  if (existing !== undefined) {
    if (!existing.isAdmin)
      log.warn({ userId: existing.id }, 'configured admin email belongs to a non-admin user');
    return;
  }
  try {
    const admin = await users.create({
      email,
      passwordHash: await hashPassword(password),
      isAdmin: true,
    });
    log.info({ userId: admin.id }, 'admin user created');
  } catch (error) {
    // Another replica created it first.
    if ((error as { code?: unknown }).code !== 'EMAIL_TAKEN') throw error;
  }
}
