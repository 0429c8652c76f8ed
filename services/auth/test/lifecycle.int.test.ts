import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import {
  createTestDatabase,
  rawRequest,
  type RawResponse,
  startTcpProxy,
  testServers,
  waitFor,
} from '@mp3converter/testkit';
import { ADMIN, basic, startTestAuth, withTestAuth } from './support.ts';

async function loginRequest(url: string, email: string, password: string): Promise<RawResponse> {
  return rawRequest(`${url}/login`, {
    method: 'POST',
    headers: { authorization: basic(email, password) },
  });
}

async function loginStatus(url: string, email: string, password: string): Promise<number> {
  return (await loginRequest(url, email, password)).status;
}

async function registerRequest(url: string, email: string): Promise<RawResponse> {
  return rawRequest(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'password-123' }),
  });
}

/** A 503 problem that tells the client when to come back. */
function assertUnavailable(res: RawResponse): void {
  assert.equal(res.status, 503, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.json<{ code: string }>().code, 'DEPENDENCY_UNAVAILABLE');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After ${retryAfter}`);
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
    await withTestAuth({ REGISTRATION_ENABLED: 'false' }, async (auth) => {
      const res = await registerRequest(auth.url, 'new@example.com');
      assert.equal(res.status, 403);
      assert.equal(res.json<{ code: string }>().code, 'REGISTRATION_DISABLED');
    });
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
      assertUnavailable(ready);
      assert.equal(
        (await rawRequest(`${auth.url}/healthz`)).status,
        200,
        'liveness does not depend on MySQL',
      );
      for (let i = 0; i < 3; i += 1) {
        assertUnavailable(await loginRequest(auth.url, ADMIN.email, ADMIN.password));
      }
      assertUnavailable(await registerRequest(auth.url, 'during-outage@example.com'));

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
      assertUnavailable(await rawRequest(`${auth.url}/readyz`));
      assertUnavailable(await loginRequest(auth.url, ADMIN.email, ADMIN.password));
      await proxy.restore();
      await auth.server.ready;
      assert.equal((await rawRequest(`${auth.url}/readyz`)).status, 200);
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 200);
    } finally {
      await auth.stop();
      await proxy.close();
    }
  });

  it('answers 503 within seconds while MySQL stalls, and recovers when it resumes', async () => {
    const proxy = await startTcpProxy(testServers.mysql.port);
    const auth = await startTestAuth({ MYSQL_PORT: String(proxy.port) });
    // Without bounds the requests below would wait as long as the stall lasts:
    // end it after 30 s so that such a failure shows instead of hanging the run.
    let safetyNet: NodeJS.Timeout | undefined;
    try {
      assert.equal(await loginStatus(auth.url, ADMIN.email, ADMIN.password), 200);
      proxy.stall();
      safetyNet = setTimeout(() => {
        proxy.resume();
      }, 30_000);
      const started = Date.now();
      const [login, registration] = await Promise.all([
        loginRequest(auth.url, ADMIN.email, ADMIN.password),
        registerRequest(auth.url, 'during-stall@example.com'),
      ]);
      const elapsedMs = Date.now() - started;
      assertUnavailable(login);
      assertUnavailable(registration);
      // Generous: the point is "answers", not "answers fast".
      assert.ok(elapsedMs < 15_000, `answered after ${elapsedMs} ms`);
      assertUnavailable(await rawRequest(`${auth.url}/readyz`));

      proxy.resume();
      await waitFor(
        async () => (await loginStatus(auth.url, ADMIN.email, ADMIN.password)) === 200,
        { timeoutMs: 15_000, what: 'a login after the stall' },
      );
      assert.equal((await registerRequest(auth.url, 'after-stall@example.com')).status, 201);
      assert.equal((await rawRequest(`${auth.url}/readyz`)).status, 200);
    } finally {
      clearTimeout(safetyNet);
      proxy.resume();
      await auth.stop();
      await proxy.close();
    }
  });
});
