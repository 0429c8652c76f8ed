import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import Postgrator from 'postgrator';
import type { Logger } from '@mp3converter/logging';
import type { AuthConfig } from './config.ts';
import { connectionOptions } from './database.ts';

const MIGRATIONS = fileURLToPath(new URL('../migrations/*.sql', import.meta.url));
const LOCK_NAME = 'mp3converter.auth.migrations';
const LOCK_WAIT_SECONDS = 60;

/**
 * Applies the versioned SQL migrations in ../migrations. Replicas starting
 * together serialise on a named lock, so each migration runs exactly once.
 */
export async function migrate(config: AuthConfig, log: Logger): Promise<number> {
  const connection = await mysql.createConnection({
    ...connectionOptions(config),
    multipleStatements: true,
  });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT GET_LOCK(?, ?) AS locked',
      [LOCK_NAME, LOCK_WAIT_SECONDS],
    );
    if (rows[0]?.locked !== 1) throw new Error('timed out waiting for the migration lock');
    try {
      const postgrator = new Postgrator({
        migrationPattern: MIGRATIONS,
        driver: 'mysql',
        database: config.MYSQL_DATABASE,
        schemaTable: 'schema_migrations',
        execQuery: async (sql) => {
          const [result] = await connection.query(sql);
          return { rows: Array.isArray(result) ? result : [] };
        },
      });
      postgrator.on('migration-started', (migration) => {
        log.info({ version: migration.version, migration: migration.name }, 'applying migration');
      });
      const applied = await postgrator.migrate();
      return applied.length;
    } finally {
      await connection.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  } finally {
    await connection.end();
  }
}
