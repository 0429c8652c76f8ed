import mysql from 'mysql2/promise';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { AuthConfig } from './config.ts';

export type Pool = mysql.Pool;

export function connectionOptions(config: AuthConfig): mysql.PoolOptions {
  return {
    host: config.MYSQL_HOST,
    port: config.MYSQL_PORT,
    user: config.MYSQL_USER,
    password: config.MYSQL_PASSWORD,
    database: config.MYSQL_DATABASE,
    charset: 'utf8mb4_unicode_ci',
    connectTimeout: 5_000,
    enableKeepAlive: true,
  };
}

export function createPool(config: AuthConfig): Pool {
  return mysql.createPool({
    ...connectionOptions(config),
    connectionLimit: config.MYSQL_POOL_SIZE,
    // Fail fast when the pool is exhausted by a hung server rather than queueing forever.
    queueLimit: config.MYSQL_POOL_SIZE * 10,
    idleTimeout: 60_000,
  });
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
  'POOL_ENQUEUELIMIT',
  'POOL_CLOSED',
  'ER_SERVER_SHUTDOWN',
]);

/** True for errors that mean "the database is not reachable right now", as opposed to a bad query. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  return fatal === true || (typeof code === 'string' && CONNECTION_ERRORS.has(code));
}

/** Maps driver errors to the service's error model; SQL text never reaches a client. */
export function databaseError(error: unknown): unknown {
  return isConnectionError(error)
    ? new DependencyUnavailableError('database', { cause: error })
    : error;
}

export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === 'ER_DUP_ENTRY'
  );
}
