import { createHash } from 'node:crypto';
import { RateLimiterMySQL, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '@mp3converter/errors';
import { databaseError, type Pool } from './database.ts';

export interface ThrottleSettings {
  maxFailuresPerEmail: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
}

function key(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Counts failed logins per email and per client address in MySQL, so every
 * auth replica sees the same counts. Once either count reaches its limit, the
 * next attempts answer 429 until the window has passed.
 */
export class LoginThrottle {
  private readonly byEmail: RateLimiterMySQL;
  private readonly byIp: RateLimiterMySQL;

  constructor(pool: Pool, database: string, settings: ThrottleSettings) {
    // rate-limiter-flexible speaks the callback API of mysql2, which the promise pool wraps.
    const common = {
      storeClient: pool.pool,
      storeType: 'pool',
      dbName: database,
      tableName: 'login_failures',
      tableCreated: true, // created by migration 002
      duration: settings.windowSeconds,
      blockDuration: settings.windowSeconds,
    };
    this.byEmail = new RateLimiterMySQL({
      ...common,
      keyPrefix: 'email',
      points: settings.maxFailuresPerEmail,
    });
    this.byIp = new RateLimiterMySQL({
      ...common,
      keyPrefix: 'ip',
      points: settings.maxFailuresPerIp,
    });
  }

  /** Throws TooManyRequestsError while either counter is over its limit. */
  async check(emailKey: string, ip: string): Promise<void> {
    const [email, address] = await Promise.all([
      this.guard(this.byEmail.get(key(emailKey))),
      this.guard(this.byIp.get(key(ip))),
    ]);
    const waits = [
      [email, this.byEmail.points],
      [address, this.byIp.points],
    ] as const;
    let retryAfterMs = 0;
    for (const [res, points] of waits) {
      if (res !== null && res.consumedPoints >= points)
        retryAfterMs = Math.max(retryAfterMs, res.msBeforeNext);
    }
    if (retryAfterMs > 0) {
      throw new TooManyRequestsError(
        'too many failed logins, try again later',
        retryAfterMs / 1000,
      );
    }
  }

  async recordFailure(emailKey: string, ip: string): Promise<void> {
    await Promise.all([
      this.consume(this.byEmail, key(emailKey)),
      this.consume(this.byIp, key(ip)),
    ]);
  }

  async recordSuccess(emailKey: string): Promise<void> {
    await this.guard(this.byEmail.delete(key(emailKey)));
  }

  private async consume(limiter: RateLimiterMySQL, k: string): Promise<void> {
    try {
      await limiter.consume(k);
    } catch (error) {
      // Rejection with a RateLimiterRes only means the limit is now reached.
      if (!(error instanceof RateLimiterRes)) throw databaseError(error);
    }
  }

  private async guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      throw databaseError(error);
    }
  }
}
