import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import mysql from 'mysql2/promise';
import { hash } from '@node-rs/argon2';
import { rawRequest, testServers } from '@mp3converter/testkit';
import {
  ADMIN,
  JWT_SECRET,
  basic,
  clientAddress,
  startTestAuth,
  type TestAuth,
} from './support.ts';

let auth: TestAuth;

before(async () => {
  auth = await startTestAuth({
    LOGIN_MAX_FAILURES_PER_EMAIL: '1000',
    LOGIN_MAX_FAILURES_PER_IP: '1000',
  });
});
after(async () => {
  await auth.stop();
});

interface Problem {
  code: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

async function login(authorization: string | undefined, headers: Record<string, string> = {}) {
  return rawRequest(`${auth.url}/login`, {
    method: 'POST',
    headers: {
      ...(authorization === undefined ? {} : { authorization }),
      'x-forwarded-for': clientAddress(),
      ...headers,
    },
  });
}

async function register(body: unknown, contentType = 'application/json') {
  return rawRequest(`${auth.url}/register`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function validate(authorization: string | undefined) {
  return rawRequest(`${auth.url}/validate`, {
    method: 'POST',
    headers: authorization === undefined ? {} : { authorization },
  });
}

function assertProblem(
  res: Awaited<ReturnType<typeof rawRequest>>,
  status: number,
  code: string,
): Problem {
  assert.equal(res.status, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json<Problem>();
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.doesNotMatch(
    res.body,
    /at \w+ \(|SELECT|INSERT|mysql/i,
    'no stack trace or SQL in the body',
  );
  return problem;
}

let emailCounter = 0;
function uniqueEmail(local = 'user'): string {
  emailCounter += 1;
  return `${local}.${Date.now()}.${emailCounter}@example.com`;
}

describe('POST /login', () => {
  it('answers the JWT alone as text/plain for the admin from configuration', async () => {
    const res = await login(basic(ADMIN.email, ADMIN.password));
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const claims = jwt.verify(res.body, JWT_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    assert.equal(claims.email, ADMIN.email);
    assert.equal(claims.username, ADMIN.email);
    assert.equal(claims.admin, true);
    assert.equal(claims.iss, 'mp3converter-auth');
    assert.equal(claims.aud, 'mp3converter');
    assert.match(String(claims.sub), /^\d+$/);
    assert.equal(claims.exp! - claims.iat!, 24 * 60 * 60);
  });

  it('answers { token, expiresAt } as JSON when the client accepts JSON', async () => {
    const res = await login(basic(ADMIN.email, ADMIN.password), { accept: 'application/json' });
    assert.equal(res.status, 200);
    const body = res.json<{ token: string; expiresAt: string }>();
    const claims = jwt.decode(body.token) as jwt.JwtPayload;
    assert.equal(new Date(body.expiresAt).getTime(), claims.exp! * 1000);
  });

  it('gives ordinary users a token whose admin claim is false', async () => {
    const email = uniqueEmail();
    assert.equal((await register({ email, password: 'password-123' })).status, 201);
    const res = await login(basic(email, 'password-123'));
    assert.equal(res.status, 200);
    assert.equal((jwt.decode(res.body) as jwt.JwtPayload).admin, false);
  });

  it('matches the email case-insensitively', async () => {
    const email = uniqueEmail('Mixed.Case');
    assert.equal((await register({ email, password: 'password-123' })).status, 201);
    assert.equal((await login(basic(email.toLowerCase(), 'password-123'))).status, 200);
    assert.equal((await login(basic(email.toUpperCase(), 'password-123'))).status, 200);
  });

  it('accepts a password that contains colons', async () => {
    const email = uniqueEmail();
    assert.equal((await register({ email, password: 'pa:ss:word' })).status, 201);
    assert.equal((await login(basic(email, 'pa:ss:word'))).status, 200);
  });

  const rejected: [string, string | undefined, string][] = [
    ['a missing header', undefined, 'CREDENTIALS_REQUIRED'],
    ['an empty header', '', 'CREDENTIALS_REQUIRED'],
    ['the Bearer scheme', 'Bearer abc.def.ghi', 'CREDENTIALS_REQUIRED'],
    ['a scheme without credentials', 'Basic', 'CREDENTIALS_REQUIRED'],
    [
      'credentials without a colon',
      `Basic ${Buffer.from('admin@example.com').toString('base64')}`,
      'MALFORMED_CREDENTIALS',
    ],
    [
      'an empty email',
      `Basic ${Buffer.from(':password').toString('base64')}`,
      'MALFORMED_CREDENTIALS',
    ],
    ['invalid base64', 'Basic !!!not-base64!!!', 'MALFORMED_CREDENTIALS'],
    [
      'base64 of bytes that are not UTF-8',
      `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x80, 0x81]).toString('base64')}`,
      'MALFORMED_CREDENTIALS',
    ],
    ['raw non-ASCII bytes in the header', 'Basic \u00ff\u00fe\u00e9', 'MALFORMED_CREDENTIALS'],
    ['an oversized header', `Basic ${'QUFB'.repeat(3000)}`, 'MALFORMED_CREDENTIALS'],
    ['an unknown email', basic('nobody@example.com', 'password-123'), 'INVALID_CREDENTIALS'],
    ['a wrong password', basic(ADMIN.email, 'wrong-password'), 'INVALID_CREDENTIALS'],
    ['an empty password', basic(ADMIN.email, ''), 'INVALID_CREDENTIALS'],
    ['SQL in the email', basic("' OR '1'='1' -- ", 'x'), 'INVALID_CREDENTIALS'],
    ['SQL in the password', basic(ADMIN.email, "' OR '1'='1"), 'INVALID_CREDENTIALS'],
    [
      'a very long email',
      basic(`${'a'.repeat(1200)}@example.com`, 'password-123'),
      'INVALID_CREDENTIALS',
    ],
    ['a very long password', basic(ADMIN.email, 'p'.repeat(1400)), 'INVALID_CREDENTIALS'],
    ['an email of spaces only', basic('   ', 'password-123'), 'INVALID_CREDENTIALS'],
    ['an email with a space inside', basic('admin @example.com', 'x'), 'INVALID_CREDENTIALS'],
  ];
  for (const [what, header, code] of rejected) {
    it(`answers 401 with a Basic challenge for ${what}`, async () => {
      const res = await login(header);
      assertProblem(res, 401, code);
      assert.match(String(res.headers['www-authenticate']), /^Basic /);
    });
  }

  it('logs in with a password of 129 emoji that registration accepted', async () => {
    const email = uniqueEmail();
    const password = '\u{1F600}'.repeat(129); // 129 code points, 258 UTF-16 code units
    assert.equal((await register({ email, password })).status, 201);
    assert.equal((await login(basic(email, password))).status, 200);
  });

  it('logs in an account whose password met the older minimum of 8 UTF-16 units', async () => {
    // Four emoji: 8 UTF-16 units (accepted before the rule counted code points), 4 code points.
    const email = uniqueEmail('legacy');
    const password = '\u{1F600}'.repeat(4);
    const connection = await mysql.createConnection({
      ...testServers.mysql,
      database: auth.database.name,
    });
    try {
      await connection.query(
        'INSERT INTO users (email, email_key, password_hash, is_admin) VALUES (?, ?, ?, 0)',
        [email, email, await hash(password)],
      );
    } finally {
      await connection.end();
    }
    assert.equal((await login(basic(email, password))).status, 200);
  });

  it('spends the same hashing work on an unknown email as on a wrong password', async () => {
    const time = async (authorization: string): Promise<number> => {
      const start = process.hrtime.bigint();
      assert.equal((await login(authorization)).status, 401);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const median = (values: number[]): number =>
      values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      unknown.push(await time(basic(`nobody${i}@example.com`, 'password-123')));
      wrong.push(await time(basic(ADMIN.email, `wrong-password-${i}`)));
    }
    // Without the decoy hash an unknown email answers in ~1 ms against ~15 ms for a real check.
    assert.ok(
      median(unknown) > median(wrong) * 0.5,
      `unknown ${median(unknown)} ms vs wrong ${median(wrong)} ms`,
    );
  });
});

describe('POST /validate', () => {
  let token: string;
  before(async () => {
    token = (await login(basic(ADMIN.email, ADMIN.password))).body;
  });

  it('answers the claims of a valid token', async () => {
    const res = await validate(`Bearer ${token}`);
    assert.equal(res.status, 200);
    const claims = res.json<Record<string, unknown>>();
    assert.equal(claims.email, ADMIN.email);
    assert.equal(claims.username, ADMIN.email);
    assert.equal(claims.admin, true);
    assert.deepEqual(Object.keys(claims).sort(), [
      'admin',
      'aud',
      'email',
      'exp',
      'iat',
      'iss',
      'sub',
      'username',
    ]);
  });

  it('accepts the scheme name in any letter case', async () => {
    assert.equal((await validate(`bearer ${token}`)).status, 200);
  });

  const claims = { sub: '1', email: ADMIN.email, username: ADMIN.email, admin: true };
  const signed = (secret: string, options: jwt.SignOptions = {}): string =>
    jwt.sign(claims, secret, {
      algorithm: 'HS256',
      issuer: 'mp3converter-auth',
      audience: 'mp3converter',
      expiresIn: 60,
      ...options,
    });
  const unsigned = (): string => {
    const encode = (value: object): string =>
      Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims, iat: now, exp: now + 60, iss: 'mp3converter-auth', aud: 'mp3converter' })}.`;
  };
  const tampered = (): string => {
    const [header, , signature] = token.split('.');
    const payload = { ...(jwt.decode(token) as object), sub: '999' };
    return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
  };

  const rejected: [string, () => string | undefined, string][] = [
    ['a missing header', () => undefined, 'TOKEN_REQUIRED'],
    ['the Basic scheme', () => basic(ADMIN.email, ADMIN.password), 'TOKEN_REQUIRED'],
    ['a header without a space', () => `Bearer${token}`, 'TOKEN_REQUIRED'],
    ['an empty token', () => 'Bearer ', 'TOKEN_REQUIRED'],
    ['garbage', () => 'Bearer garbage', 'INVALID_TOKEN'],
    ['garbage in JWT shape', () => 'Bearer aaa.bbb.ccc', 'INVALID_TOKEN'],
    ['raw non-ASCII bytes', () => 'Bearer \u00ff\u00fe.\u00e9.x', 'INVALID_TOKEN'],
    ['an oversized token', () => `Bearer ${'a'.repeat(9000)}.b.c`, 'INVALID_TOKEN'],
    ['alg: none', () => `Bearer ${unsigned()}`, 'INVALID_TOKEN'],
    [
      'a wrong secret',
      () => `Bearer ${signed('another-secret-that-is-also-32-bytes-long!')}`,
      'INVALID_TOKEN',
    ],
    [
      'another algorithm (HS512) with the right secret',
      () => `Bearer ${signed(JWT_SECRET, { algorithm: 'HS512' })}`,
      'INVALID_TOKEN',
    ],
    [
      'a wrong audience',
      () => `Bearer ${signed(JWT_SECRET, { audience: 'someone-else' })}`,
      'INVALID_TOKEN',
    ],
    [
      'a wrong issuer',
      () => `Bearer ${signed(JWT_SECRET, { issuer: 'someone-else' })}`,
      'INVALID_TOKEN',
    ],
    [
      'an expired token',
      () =>
        `Bearer ${jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, JWT_SECRET, { algorithm: 'HS256', issuer: 'mp3converter-auth', audience: 'mp3converter' })}`,
      'TOKEN_EXPIRED',
    ],
    ['a tampered payload', () => `Bearer ${tampered()}`, 'INVALID_TOKEN'],
  ];
  for (const [what, header, code] of rejected) {
    it(`answers 401 with a Bearer challenge for ${what}`, async () => {
      const res = await validate(header());
      assertProblem(res, 401, code);
      assert.match(String(res.headers['www-authenticate']), /^Bearer /);
    });
  }
});

describe('POST /register', () => {
  it('creates a user, stores only an argon2id hash, and answers 201 with id and email', async () => {
    const email = uniqueEmail();
    const res = await register({ email, password: 'a-good-password' });
    assert.equal(res.status, 201);
    const body = res.json<{ id: number; email: string }>();
    assert.equal(body.email, email);
    assert.ok(Number.isInteger(body.id) && body.id > 0);

    const connection = await mysql.createConnection({
      ...testServers.mysql,
      database: auth.database.name,
    });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        'SELECT password_hash FROM users WHERE id = ?',
        [body.id],
      );
      const stored = String(rows[0]?.password_hash);
      assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(!stored.includes('a-good-password'));
    } finally {
      await connection.end();
    }
  });

  it('answers 409 for an email taken in another letter case', async () => {
    const email = uniqueEmail('taken');
    assert.equal((await register({ email, password: 'password-123' })).status, 201);
    assertProblem(
      await register({ email: email.toUpperCase(), password: 'password-456' }),
      409,
      'EMAIL_TAKEN',
    );
  });

  it('lets exactly one of two racing registrations of the same email succeed', async () => {
    for (let round = 0; round < 3; round += 1) {
      const email = uniqueEmail('race');
      const results = await Promise.all([
        register({ email, password: 'password-123' }),
        register({ email: email.toUpperCase(), password: 'password-456' }),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409]);
    }
  });

  it('accepts passwords of exactly 8 and 256 characters', async () => {
    assert.equal((await register({ email: uniqueEmail(), password: 'p'.repeat(8) })).status, 201);
    const email = uniqueEmail();
    assert.equal((await register({ email, password: 'p'.repeat(256) })).status, 201);
    assert.equal((await login(basic(email, 'p'.repeat(256)))).status, 200);
  });

  it('stores SQL metacharacters as plain data', async () => {
    const email = `o'brien+x--.${Date.now()}@example.com`;
    const password = `'); DROP TABLE users; --`;
    assert.equal((await register({ email, password })).status, 201);
    assert.equal((await login(basic(email, password))).status, 200);
  });

  const invalid: [string, unknown, string[]][] = [
    ['an invalid email', { email: 'not-an-email', password: 'password-123' }, ['email']],
    [
      'a password of 7 characters',
      { email: 'seven@example.com', password: 'p'.repeat(7) },
      ['password'],
    ],
    [
      'a password of 257 characters',
      { email: 'long@example.com', password: 'p'.repeat(257) },
      ['password'],
    ],
    [
      'an email longer than 254 characters',
      { email: `${'a'.repeat(250)}@example.com`, password: 'password-123' },
      ['email'],
    ],
    ['missing fields', {}, ['email', 'password']],
    [
      'a password of 257 emoji',
      { email: 'emoji@example.com', password: '\u{1F600}'.repeat(257) },
      ['password'],
    ],
    ['a number as password', { email: 'n@example.com', password: 12345678 }, ['password']],
    ['an array body', [1, 2], ['body']],
  ];
  for (const [what, body, paths] of invalid) {
    it(`answers 400 with field errors for ${what}`, async () => {
      const problem = assertProblem(await register(body), 400, 'VALIDATION_FAILED');
      assert.deepEqual(problem.errors?.map((e) => e.path).sort(), paths);
    });
  }

  it('answers 400 for a body that is not JSON', async () => {
    assertProblem(await register('{"email": ', 'application/json'), 400, 'INVALID_JSON');
    assertProblem(
      await register('email=a@b.c', 'application/x-www-form-urlencoded'),
      400,
      'VALIDATION_FAILED',
    );
  });

  for (const encoding of ['gzip', 'deflate', 'br']) {
    it(`answers 400 for a ${encoding} body that does not decompress`, async () => {
      const res = await rawRequest(`${auth.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: Buffer.from('this is not compressed at all'),
      });
      assertProblem(res, 400, 'INVALID_CONTENT_ENCODING');
    });
  }

  it('answers 413 for an oversized body', async () => {
    assertProblem(
      await register({ email: 'big@example.com', password: 'p'.repeat(20_000) }),
      413,
      'BODY_TOO_LARGE',
    );
  });
});

describe('probes and unknown routes', () => {
  it('answers /healthz and /readyz', async () => {
    assert.equal((await rawRequest(`${auth.url}/healthz`)).status, 200);
    const ready = await rawRequest(`${auth.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: 'ok' } });
  });

  it('answers an unknown route with a 404 problem and echoes the request id', async () => {
    const res = await rawRequest(`${auth.url}/nope`, { headers: { 'x-request-id': 'trace-123' } });
    assertProblem(res, 404, 'ROUTE_NOT_FOUND');
    assert.equal(res.headers['x-request-id'], 'trace-123');
    assert.equal(res.json<{ requestId: string }>().requestId, 'trace-123');
  });
});
