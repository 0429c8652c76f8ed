import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import {
  createTestDatabase,
  rawRequest,
  startTcpProxy,
  testServers,
  waitFor,
} from '@mp3converter/testkit';
import { ADMIN, basic, startTestAuth } from './support.ts';

async function loginStatus(url: string, email: string, password: string): Promise<number> {
  return (
    await rawRequest(`${url}/login`, {
      method: 'POST',
      headers: { authorization: basic(email, password) },
    })
  ).status;
}

async function count(database: string, sql: string): Promise<number> {
  const connection = await mysql.createConnection({ ...testServers.mysql, database });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(sql);
    return Number(rows[0]?.n);
  } finally {
    await connection.end();
  }
}

describe('start-up', () => {
  it('applies migrations once and leaves an existing admin as it is on restart', async () => {
    const first = await startTestAuth();
    try {
      assert.equal(await loginStatus(first.url, ADMIN.email, ADMIN.password), 200);
      await first.stopService();

      const second = await startTestAuth(
        { ADMIN_PASSWORD: 'a-new-password-from-config' },
        first.database,
      );
      await second.stopService();
      const third = await startTestAuth({}, first.database);
      try {
        assert.equal(await loginStatus(third.url, ADMIN.email, ADMIN.password), 200);
        assert.equal(await loginStatus(third.url, ADMIN.email, 'a-new-password-from-config'), 401);
        assert.equal(await count(first.database.name, 'SELECT COUNT(*) AS n FROM users'), 1);
        assert.equal(
          await count(
            first.database.name,
            'SELECT COUNT(*) AS n FROM schema_migrations WHERE version > 0',
          ),
          2,
        );
      } finally {
        await third.stopService();
      }
    } finally {
      await first.stop();
    }
  });

  it('runs migrations exactly once when replicas start together', async () => {
    const database = await createTestDatabase();
    try {
      const replicas = await Promise.all([1, 2, 3].map(() => startTestAuth({}, database)));
      try {
        assert.equal(
          await count(
            database.name,
            'SELECT COUNT(*) AS n FROM schema_migrations WHERE version > 0',
          ),
          2,
        );
        assert.equal(await count(database.name, 'SELECT COUNT(*) AS n FROM users'), 1);
      } finally {
        await Promise.all(replicas.map((r) => r.stopService()));
      }
    } finally {
      await database.drop();
    }
  });

  it('answers 403 to registration when it is switched off', async () => {
    const auth = await startTestAuth({ REGISTRATION_ENABLED: 'false' });
    try {
      const res = await rawRequest(`${auth.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'new@example.com', password: 'password-123' }),
      });
      assert.equal(res.status, 403);
      assert.equal(res.json<{ code: string }>().code, 'REGISTRATION_DISABLED');
    } finally {
      await auth.stop();
    }
  });
});

describe('MySQL outages', () => {
  it('answers 503 while MySQL is down and recovers on its own when it returns', async () => {
    const proxy = await startTcpProxy(testServers.mysql.port);
    const auth = await startTestAuth({ MYSQL_PORT: String(proxy.port) });
    try {
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 200);
      await proxy.cut();

      const ready = await rawRequest(`${auth.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.json<{ code: string }>().code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(
        (await rawRequest(`${auth.url}/healthz`)).status,
        200,
        'liveness does not depend on MySQL',
      );
      for (let i = 0; i < 3; i += 1) {
        const login = await rawRequest(`${auth.url}/login`, {
          method: 'POST',
          headers: { authorization: basic(ADMIN.email, ADMIN.password) },
        });
        assert.equal(login.status, 503, login.body);
        assert.match(String(login.headers['content-type']), /^application\/problem\+json/);
      }
      const registration = await rawRequest(`${auth.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'during-outage@example.com', password: 'password-123' }),
      });
      assert.equal(registration.status, 503);

      await proxy.restore();
      await waitFor(async () => (await rawRequest(`${auth.url}/readyz`)).status === 200, {
        what: 'readiness',
      });
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 200);
    } finally {
      await auth.stop();
      await proxy.close();
    }
  });

  it('waits for MySQL when it is down at start', async () => {
    const proxy = await startTcpProxy(testServers.mysql.port);
    await proxy.cut();
    const auth = await startTestAuth({ MYSQL_PORT: String(proxy.port) }, undefined, {
      waitReady: false,
    });
    try {
      assert.equal((await rawRequest(`${auth.url}/healthz`)).status, 200);
      assert.equal((await rawRequest(`${auth.url}/readyz`)).status, 503);
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 503);
      await proxy.restore();
      await auth.service.ready;
      assert.equal((await rawRequest(`${auth.url}/readyz`)).status, 200);
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 200);
    } finally {
      await auth.stop();
      await proxy.close();
    }
  });
});
