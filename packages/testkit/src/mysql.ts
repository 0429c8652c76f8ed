import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { testServers } from './env.ts';

export interface TestDatabase {
  name: string;
  drop(): Promise<void>;
}

/** A fresh, uniquely named database for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `mp3test_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ ...testServers.mysql });
  try {
    await admin.query(
      `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await admin.end();
  }
  return {
    name,
    drop: async () => {
      const connection = await mysql.createConnection({ ...testServers.mysql });
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}
