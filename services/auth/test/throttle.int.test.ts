import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest } from '@mp3converter/testkit';
import { ADMIN, basic, startTestAuth, withTestAuth, type TestAuth } from './support.ts';

let auth: TestAuth;

before(async () => {
  auth = await startTestAuth({
    LOGIN_MAX_FAILURES_PER_EMAIL: '3',
    LOGIN_MAX_FAILURES_PER_IP: '6',
    LOGIN_FAILURE_WINDOW_SECONDS: '60',
  });
});
after(async () => {
  await auth.stop();
});

async function login(email: string, password: string, address: string, url = auth.url) {
  return rawRequest(`${url}/login`, {
    method: 'POST',
    headers: { authorization: basic(email, password), 'x-forwarded-for': address },
  });
}

async function registerUser(email: string, url = auth.url): Promise<void> {
  const res = await rawRequest(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'right-password' }),
  });
  assert.equal(res.status, 201);
}

describe('login throttling', () => {
  it('answers 429 with Retry-After once one email has failed too often, even with the right password', async () => {
    const email = 'victim@example.com';
    await registerUser(email);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await login(email, 'wrong', `203.0.113.${i + 1}`)).status, 401);
    }
    const blocked = await login(email, 'right-password', '203.0.113.50');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.json<{ code: string }>().code, 'TOO_MANY_REQUESTS');
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    // Another account is not affected by this email's failures.
    assert.equal((await login(ADMIN.email, ADMIN.password, '203.0.113.51')).status, 200);
  });

  it('counts failures per email case-insensitively', async () => {
    const email = 'Case.Victim@example.com';
    await registerUser(email);
    assert.equal((await login('case.victim@example.com', 'wrong', '203.0.113.60')).status, 401);
    assert.equal((await login('CASE.VICTIM@example.com', 'wrong', '203.0.113.61')).status, 401);
    assert.equal((await login('Case.Victim@EXAMPLE.com', 'wrong', '203.0.113.62')).status, 401);
    assert.equal((await login(email, 'right-password', '203.0.113.63')).status, 429);
  });

  it("forgets an email's failures after a successful login", async () => {
    const email = 'forgetful@example.com';
    await registerUser(email);
    for (let round = 0; round < 3; round += 1) {
      assert.equal((await login(email, 'wrong', `203.0.113.${70 + round}`)).status, 401);
      assert.equal((await login(email, 'wrong', `203.0.113.${80 + round}`)).status, 401);
      assert.equal((await login(email, 'right-password', `203.0.113.${90 + round}`)).status, 200);
    }
  });

  it('answers 429 to an address that failed too often, whatever email it tries next', async () => {
    const address = '192.0.2.77';
    for (let i = 0; i < 6; i += 1) {
      assert.equal((await login(`unknown${i}@example.com`, 'wrong', address)).status, 401);
    }
    const blocked = await login(ADMIN.email, ADMIN.password, address);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    assert.equal((await login(ADMIN.email, ADMIN.password, '192.0.2.78')).status, 200);
  });

  it('counts an email written with surrounding spaces against the same lockout', async () => {
    const email = 'spaced.victim@example.com';
    await registerUser(email);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await login(email, 'wrong', `203.0.113.${100 + i}`)).status, 401);
    }
    for (const variant of [`${email}   `, ` ${email}`, `${email.toUpperCase()} `]) {
      const res = await login(variant, 'right-password', '203.0.113.110');
      assert.equal(res.status, 429, JSON.stringify(variant));
    }
  });

  // Last in this file: it locks out the test's own loopback address.
  it('throttles by the connecting address when X-Forwarded-For is not an IP address', async () => {
    for (let i = 0; i < 6; i += 1) {
      assert.equal((await login(`nobody${i}@example.com`, 'wrong', `not-an-ip-${i}`)).status, 401);
    }
    assert.equal((await login(ADMIN.email, ADMIN.password, 'not-an-ip-either')).status, 429);
  });
});

describe('concurrent login attempts', () => {
  it('lets no more wrong passwords through than the limit when they arrive at once', async () => {
    const limits = { LOGIN_MAX_FAILURES_PER_EMAIL: '10', LOGIN_MAX_FAILURES_PER_IP: '1000' };
    await withTestAuth(limits, async (strict) => {
      const email = 'crowd.victim@example.com';
      await registerUser(email, strict.url);
      const statuses = (
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            login(email, `wrong-${i}`, `198.18.0.${i + 1}`, strict.url),
          ),
        )
      ).map((res) => res.status);
      const unauthorized = statuses.filter((status) => status === 401).length;
      const throttled = statuses.filter((status) => status === 429).length;
      assert.ok(unauthorized >= 1 && unauthorized <= 10, `${unauthorized} answered 401`);
      assert.equal(unauthorized + throttled, 50, `statuses: ${statuses.join(' ')}`);
      assert.equal((await login(email, 'right-password', '198.18.1.1', strict.url)).status, 429);
    });
  });
});
