import mysql, { type Pool, type PoolConnection } from 'mysql2';
import { DependencyUnavailableError } from '@mp3converter/errors';

export interface DatabaseSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  poolSize: number;
  /** How long one call may take, waiting for a connection included. */
  timeoutMs: number;
}

/**
 * How many calls may wait for a pooled connection. A login makes one call at a
 * time and each takes about a millisecond, so a thousand waiting calls (a burst
 * of several hundred logins) clear well within the timeout; beyond that the
 * database is overloaded and callers get a 503 at once rather than at the
 * deadline. (mysql2 answers "Queue limit reached." when it is exceeded.)
 */
const QUEUE_LIMIT = 1_000;

export function connectionOptions(settings: DatabaseSettings): mysql.ConnectionOptions {
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
    charset: 'utf8mb4_unicode_ci',
    connectTimeout: settings.timeoutMs,
    enableKeepAlive: true,
  };
}

type Callback = (error: unknown, result?: unknown) => void;

/**
 * The part of mysql2's callback pool that rate-limiter-flexible's "pool" store
 * uses: getConnection, then query, rollback and release on the connection.
 */
export interface LimiterStore {
  getConnection(callback: (error: unknown, connection?: LimiterConnection) => void): void;
}

export interface LimiterConnection {
  query(sql: string, values: unknown, callback?: Callback): void;
  query(sql: string, callback?: Callback): void;
  rollback(): void;
  release(): void;
}

/**
 * The auth database: a connection pool whose every call is bounded. A stalled
 * server (stopped, not closed) would otherwise hold each request for as long
 * as it stalls: waiting for a pooled connection and running the query share
 * one deadline, and a connection whose query timed out is discarded, never
 * handed to the next caller with the late answer still to come.
 */
export class Database {
  readonly name: string;
  readonly #pool: Pool;
  readonly #timeoutMs: number;

  constructor(settings: DatabaseSettings) {
    this.name = settings.database;
    this.#timeoutMs = settings.timeoutMs;
    this.#pool = mysql.createPool({
      ...connectionOptions(settings),
      connectionLimit: settings.poolSize,
      queueLimit: QUEUE_LIMIT,
      idleTimeout: 60_000,
    });
  }

  /** Runs one statement (placeholders escaped by mysql2) and answers its result. */
  async query<T>(sql: string, values: mysql.QueryOptions['values'] = []): Promise<T> {
    const deadline = Date.now() + this.#timeoutMs;
    const connection = await this.#acquire(deadline);
    try {
      const result = await run(connection, sql, values, deadline);
      connection.release();
      return result as T;
    } catch (error) {
      discardUnlessSqlError(connection, error);
      throw databaseError(error);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** A pool for rate-limiter-flexible whose connections are bounded the same way. */
  limiterStore(): LimiterStore {
    return {
      getConnection: (callback) => {
        const deadline = Date.now() + this.#timeoutMs;
        this.#acquire(deadline).then(
          (connection) => {
            callback(null, new BoundedConnection(connection, deadline));
          },
          (error: unknown) => {
            callback(error);
          },
        );
      },
    };
  }

  /**
   * Closes the pool within `timeoutMs`. During an outage a connection still connecting
   * makes end() reject or wait: shutdown must not fail on that, so what is left is dropped.
   */
  async end(timeoutMs = 5_000): Promise<void> {
    const ended = this.#pool
      .promise()
      .end()
      .catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([ended, late]);
    clearTimeout(timer);
  }

  #acquire(deadline: number): Promise<PoolConnection> {
    return new Promise((resolve, reject) => {
      let waiting = true;
      const timer = setTimeout(
        () => {
          waiting = false;
          reject(
            new DependencyUnavailableError('database', {
              cause: new Error(`no database connection within ${this.#timeoutMs} ms`),
            }),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#pool.getConnection((error, connection) => {
        if (!waiting) {
          // The caller has given up: hand the late connection straight back.
          if (error === null) connection.release();
          return;
        }
        waiting = false;
        clearTimeout(timer);
        if (error === null) resolve(connection);
        else reject(databaseError(error));
      });
    });
  }
}

function run(
  connection: PoolConnection,
  sql: string,
  values: mysql.QueryOptions['values'],
  deadline: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    connection.query(
      { sql, values, timeout: Math.max(1, deadline - Date.now()) },
      (error, result) => {
        if (error === null) resolve(result);
        else reject(error);
      },
    );
  });
}

/** An SQL error leaves the connection usable; a timeout or a broken link does not. */
function discardUnlessSqlError(connection: PoolConnection, error: unknown): void {
  if (isSqlError(error)) connection.release();
  else connection.destroy();
}

/** A pooled connection for rate-limiter-flexible, its queries bounded by the deadline of its checkout. */
class BoundedConnection implements LimiterConnection {
  readonly #connection: PoolConnection;
  readonly #deadline: number;
  #discard = false;

  constructor(connection: PoolConnection, deadline: number) {
    this.#connection = connection;
    this.#deadline = deadline;
  }

  query(sql: string, valuesOrCallback?: unknown, maybeCallback?: Callback): void {
    const callback =
      typeof valuesOrCallback === 'function' ? (valuesOrCallback as Callback) : maybeCallback;
    const values =
      typeof valuesOrCallback === 'function'
        ? undefined
        : (valuesOrCallback as mysql.QueryOptions['values']);
    run(this.#connection, sql, values, this.#deadline).then(
      (result) => callback?.(null, result),
      (error: unknown) => {
        if (!isSqlError(error)) this.#discard = true;
        callback?.(error);
      },
    );
  }

  /** Ending the session rolls the transaction back, and needs no answer from a server that may not give one. */
  rollback(): void {
    this.#discard = true;
  }

  release(): void {
    if (this.#discard) this.#connection.destroy();
    else this.#connection.release();
  }
}

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
]);

// mysql2's pool reports these without a code.
const POOL_MESSAGES = new Set([
  'Queue limit reached.',
  'No connections available.',
  'Pool is closed.',
]);

/** True for errors that mean "the database is not reachable right now", as opposed to a bad query. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  return (
    fatal === true ||
    (typeof code === 'string' && CONNECTION_ERRORS.has(code)) ||
    (code === undefined && POOL_MESSAGES.has(error.message))
  );
}

/** An error the server answered to a statement, which leaves the connection as it was. */
function isSqlError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { sqlState?: unknown }).sqlState === 'string' &&
    (error as { fatal?: unknown }).fatal !== true
  );
}

/** Maps driver errors to the service's error model; SQL text never reaches a client. */
export function databaseError(error: unknown): Error {
  if (isConnectionError(error)) return new DependencyUnavailableError('database', { cause: error });
  return error instanceof Error ? error : new Error('database call failed', { cause: error });
}

export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === 'ER_DUP_ENTRY'
  );
}
