import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, basic, clientAddress, simultaneousRequests, withTestAuth } from './support.ts';

function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe('a burst of logins', () => {
  it('gives 100 simultaneous logins real answers', async () => {
    // A small pool makes the burst queue for connections deterministically. The test is about
    // that queue, not the per-call deadline: on a slow, busy VM the 100 password hashes took
    // long enough that calls waiting behind them passed the default 5 s and answered 503.
    const limits = { LOGIN_MAX_FAILURES_PER_EMAIL: '1000', LOGIN_MAX_FAILURES_PER_IP: '1000' };
    const env = { MYSQL_POOL_SIZE: '2', MYSQL_TIMEOUT_MS: '60000', ...limits };
    await withTestAuth(env, async (auth) => {
      const statuses = await simultaneousRequests(
        auth.url,
        Array.from({ length: 100 }, (_, i) => ({
          method: 'POST',
          path: '/login',
          headers: {
            authorization: basic(ADMIN.email, i % 2 === 0 ? ADMIN.password : `wrong-${i}`),
            'x-forwarded-for': clientAddress(),
          },
        })),
      );
      assert.deepEqual(tally(statuses), { 200: 50, 401: 50 });
    });
  });
});
