import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import Postgrator from 'postgrator';
import type { Logger } from '@mp3converter/logging';
import { connectionOptions, type DatabaseSettings } from './database.ts';

const MIGRATIONS = fileURLToPath(new URL('../migrations/*.sql', import.meta.url));
const LOCK_NAME = 'mp3converter.auth.migrations';
const LOCK_WAIT_SECONDS = 60;
/** Generous for a schema change on a small table, but a stalled server cannot hold start-up forever. */
const STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Applies the versioned SQL migrations in ../migrations. Replicas starting
 * together serialise on a named lock, so each migration runs exactly once.
 * Every statement has a timeout; after a failure the connection is destroyed,
 * which also releases the lock, rather than asked to close politely.
 */
export async function migrate(settings: DatabaseSettings, log: Logger): Promise<number> {
  const connection = await mysql.createConnection({
    ...connectionOptions(settings),
    multipleStatements: true,
  });
  const query = async (sql: string, values: unknown[] = [], timeout = STATEMENT_TIMEOUT_MS) =>
    (await connection.query({ sql, values, timeout }))[0];
  try {
    const locked = (await query(
      'SELECT GET_LOCK(?, ?) AS locked',
      [LOCK_NAME, LOCK_WAIT_SECONDS],
      LOCK_WAIT_SECONDS * 1000 + settings.timeoutMs,
    )) as mysql.RowDataPacket[];
    if (locked[0]?.locked !== 1) throw new Error('timed out waiting for the migration lock');
    const postgrator = new Postgrator({
      migrationPattern: MIGRATIONS,
      driver: 'mysql',
      database: settings.database,
      schemaTable: 'schema_migrations',
      execQuery: async (sql) => {
        const result = await query(sql);
        return { rows: Array.isArray(result) ? result : [] };
      },
    });
    postgrator.on('migration-started', (migration) => {
      log.info({ version: migration.version, migration: migration.name }, 'applying migration');
    });
    const applied = await postgrator.migrate();
    await query('SELECT RELEASE_LOCK(?)', [LOCK_NAME], settings.timeoutMs);
    await connection.end();
    return applied.length;
  } catch (error) {
    connection.destroy();
    throw error;
  }
}
