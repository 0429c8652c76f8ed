import { once } from 'node:events';
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { clientAddress } from '@mp3converter/auth/testing';
import { basic, startTestSystem, type TestSystem } from './support.ts';

/** Auth's limits for this file: low, so that throttling shows after a few attempts. */
const MAX_FAILURES_PER_EMAIL = 4;
const MAX_FAILURES_PER_IP = 3;
const WINDOW_SECONDS = 120;

let system: TestSystem;

before(async () => {
  system = await startTestSystem({
    authEnv: {
      LOGIN_MAX_FAILURES_PER_EMAIL: String(MAX_FAILURES_PER_EMAIL),
      LOGIN_MAX_FAILURES_PER_IP: String(MAX_FAILURES_PER_IP),
      LOGIN_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS),
    },
  });
});

after(async () => {
  await system.stop();
});

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId?: string;
  errors?: { path: string; message: string }[];
}

const PASSWORD = 'correct horse battery staple';

function newEmail(): string {
  return `user-${randomUUID()}@example.com`;
}

function register(body: unknown, contentType = 'application/json'): Promise<Response> {
  return fetch(`${system.url}/register`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * POST /login as curl sends it. Every attempt comes from its own client address
 * (X-Forwarded-For) unless one is given, so that the per-address limit stays out of the way;
 * `forwardedFor: null` sends none.
 */
function login(
  credentials: { email: string; password: string } | undefined,
  {
    accept,
    forwardedFor = clientAddress(),
  }: { accept?: string; forwardedFor?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (forwardedFor !== null) headers['x-forwarded-for'] = forwardedFor;
  if (credentials !== undefined)
    headers.authorization = basic(credentials.email, credentials.password);
  if (accept !== undefined) headers.accept = accept;
  return fetch(`${system.url}/login`, { method: 'POST', headers });
}

async function registered(): Promise<{ email: string; password: string }> {
  const email = newEmail();
  const response = await register({ email, password: PASSWORD });
  assert.equal(response.status, 201, await response.text());
  return { email, password: PASSWORD };
}

async function problemOf(response: Response): Promise<ProblemBody> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  return (await response.json()) as ProblemBody;
}

describe('POST /register through the gateway', () => {
  it("answers auth's 201 with its body and Location", async () => {
    const email = newEmail();
    const response = await register({ email, password: PASSWORD });
    assert.equal(response.status, 201);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { id: number; email: string };
    assert.equal(body.email, email);
    assert.equal(typeof body.id, 'number');
    // auth's Location (/users/<id>) is no path of the public API: not passed on.
    assert.equal(response.headers.get('location'), null);
  });

  it("answers a second registration of an email with auth's 409 EMAIL_TAKEN", async () => {
    const { email } = await registered();
    const again = await register({ email, password: 'another password entirely' });
    assert.equal(again.status, 409);
    const problem = await problemOf(again);
    assert.equal(problem.code, 'EMAIL_TAKEN');
    assert.equal(problem.status, 409);
  });

  it("answers an invalid registration with auth's 400 and the fields at fault", async () => {
    const response = await register({ email: 'not an email', password: 'short' });
    assert.equal(response.status, 400);
    const problem = await problemOf(response);
    assert.equal(problem.code, 'VALIDATION_FAILED');
    assert.deepEqual(problem.errors?.map((error) => error.path).sort(), ['email', 'password']);

    // The gateway passes any content type on: auth decides that text is not a registration.
    const text = await register('email=a@example.com', 'text/plain');
    assert.equal(text.status, 400);
    assert.equal((await problemOf(text)).code, 'VALIDATION_FAILED');
  });

  it('refuses a body over 16 KiB itself with 413 BODY_TOO_LARGE', async () => {
    const response = await register({ email: newEmail(), password: 'x'.repeat(20_000) });
    assert.equal(response.status, 413);
    assert.equal((await problemOf(response)).code, 'BODY_TOO_LARGE');
  });
});

describe('POST /login through the gateway', () => {
  it('answers the token alone as text/plain to curl (Accept: */*)', async () => {
    const user = await registered();
    const response = await login(user, { accept: '*/*' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const token = await response.text();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

    // The token works for the gateway's own routes.
    await system.api.as(token).listJobs();
  });

  it('answers { token, expiresAt } to Accept: application/json', async () => {
    const user = await registered();
    const response = await login(user, { accept: 'application/json' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { token: string; expiresAt: string };
    assert.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(Date.parse(body.expiresAt) > Date.now(), body.expiresAt);
  });

  it("answers a wrong password with auth's 401, Basic challenge and problem", async () => {
    const user = await registered();
    const response = await login({ ...user, password: 'not the password' });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm="mp3converter"/);
    const problem = await problemOf(response);
    assert.equal(problem.code, 'INVALID_CREDENTIALS');
    assert.equal(problem.status, 401);
    // The gateway's request id went on to auth: one id for the whole request.
    assert.equal(problem.requestId, response.headers.get('x-request-id'));
  });

  it('answers 401 CREDENTIALS_REQUIRED without credentials', async () => {
    const response = await login(undefined);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal((await problemOf(response)).code, 'CREDENTIALS_REQUIRED');
  });

  it('passes on 429 and Retry-After once an email has failed too often', async () => {
    const user = await registered();
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i += 1) {
      assert.equal((await login({ ...user, password: `wrong ${i}` })).status, 401);
    }
    // Even the right password, from yet another address.
    const blocked = await login(user);
    assert.equal(blocked.status, 429);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= WINDOW_SECONDS,
      `Retry-After ${retryAfter}`,
    );
    assert.equal((await problemOf(blocked)).code, 'TOO_MANY_REQUESTS');
  });

  it("passes the client's address on, so auth throttles clients and not the gateway", async () => {
    const clientA = '203.0.113.7';
    const clientB = '203.0.113.8';
    for (let i = 0; i < MAX_FAILURES_PER_IP; i += 1) {
      const failed = await login(
        { email: newEmail(), password: 'wrong' },
        { forwardedFor: clientA },
      );
      assert.equal(failed.status, 401);
    }
    const blocked = await login(
      { email: newEmail(), password: 'wrong' },
      { forwardedFor: clientA },
    );
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    // Another client behind the same gateway is not affected.
    const other = await login({ email: newEmail(), password: 'wrong' }, { forwardedFor: clientB });
    assert.equal(other.status, 401);
    // Nor is a client that sends no X-Forwarded-For (the gateway's own peer address counts).
    assert.equal((await login(await registered(), { forwardedFor: null })).status, 200);
  });
});

describe('with a gateway that does not trust the client to name its address', () => {
  let strict: TestSystem;
  before(async () => {
    strict = await startTestSystem({
      // Only some proxy elsewhere may set X-Forwarded-For; this test's loopback client may not.
      env: { TRUST_PROXY: '192.0.2.1' },
      authEnv: { LOGIN_MAX_FAILURES_PER_IP: String(MAX_FAILURES_PER_IP) },
    });
  });
  after(async () => {
    await strict.stop();
  });

  it('counts a client that sends a fresh X-Forwarded-For each time as the one client it is', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= MAX_FAILURES_PER_IP; i += 1) {
      const response = await fetch(`${strict.url}/login`, {
        method: 'POST',
        headers: {
          authorization: basic(newEmail(), 'wrong-password'),
          'x-forwarded-for': clientAddress(),
        },
      });
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [...Array<number>(MAX_FAILURES_PER_IP).fill(401), 429]);
  });
});

describe('a client whose body trickles in', () => {
  let short: TestSystem;
  before(async () => {
    short = await startTestSystem({ env: { REQUEST_BODY_TIMEOUT_MS: '300' } });
  });
  after(async () => {
    await short.stop();
  });

  it('is cut off once the body deadline passes, not after the upload timeout', async () => {
    const socket = connect(Number(new URL(short.url).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 10000\r\n\r\n{',
    );
    const started = performance.now();
    await once(socket, 'close');
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= 250 && elapsedMs < 5_000, `closed after ${Math.round(elapsedMs)} ms`);
  });
});

describe('with registration switched off in auth', () => {
  let closed: TestSystem;
  before(async () => {
    closed = await startTestSystem({ authEnv: { REGISTRATION_ENABLED: 'false' } });
  });
  after(async () => {
    await closed.stop();
  });

  it("answers POST /register with auth's 403 REGISTRATION_DISABLED", async () => {
    const { body } = await closed.api.register(
      { email: newEmail(), password: PASSWORD },
      { expectedStatus: 403 },
    );
    assert.equal(body.code, 'REGISTRATION_DISABLED');
  });
});

describe('with auth down', () => {
  before(async () => {
    await system.auth.stopService();
  });

  for (const [path, send] of [
    ['/login', () => login({ email: newEmail(), password: PASSWORD })],
    ['/register', () => register({ email: newEmail(), password: PASSWORD })],
  ] as const) {
    it(`answers POST ${path} with 503 and Retry-After at once, never 500 or a hang`, async () => {
      const started = performance.now();
      const response = await send();
      const elapsedMs = performance.now() - started;
      assert.equal(response.status, 503);
      assert.ok(Number(response.headers.get('retry-after')) > 0);
      const problem = await problemOf(response);
      assert.equal(problem.code, 'DEPENDENCY_UNAVAILABLE');
      assert.match(problem.detail, /auth/);
      assert.ok(elapsedMs < 2_000, `answered after ${Math.round(elapsedMs)} ms`);
    });
  }
});
