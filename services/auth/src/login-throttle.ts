import { createHash } from 'node:crypto';
import { RateLimiterMySQL, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '@mp3converter/errors';
import { databaseError, type LimiterStore } from './database.ts';
import type { EmailKey } from './emails.ts';

export interface ThrottleSettings {
  maxFailuresPerEmail: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
}

/** A login attempt that has been counted; call succeeded() if the password was right. */
export interface CountedAttempt {
  succeeded(): Promise<void>;
}

function key(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Counts login attempts per email and per client address in MySQL, so every
 * auth replica sees the same counts. Each attempt is counted before its
 * password is checked, in one atomic step, so that attempts arriving together
 * cannot all pass a check made before any of them was recorded; a successful
 * login clears its email's count and gives its address its point back. Past
 * either limit, attempts answer 429 until the window has passed.
 */
export class LoginThrottle {
  private readonly byEmail: RateLimiterMySQL;
  private readonly byIp: RateLimiterMySQL;

  constructor(store: LimiterStore, database: string, settings: ThrottleSettings) {
    const common = {
      storeClient: store,
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

  /**
   * Counts an attempt against the address, then (when there is one) the email;
   * throws TooManyRequestsError once either is over its limit. An address that
   * is already over its limit adds nothing to the email's count.
   */
  async count(email: EmailKey | undefined, ip: string): Promise<CountedAttempt> {
    const ipKey = key(ip);
    await consume(this.byIp, ipKey);
    const emailKey = email === undefined ? undefined : key(email);
    if (emailKey !== undefined) await consume(this.byEmail, emailKey);
    return {
      succeeded: async () => {
        try {
          await Promise.all([
            emailKey === undefined ? undefined : this.byEmail.delete(emailKey),
            this.byIp.reward(ipKey, 1),
          ]);
        } catch (error) {
          throw databaseError(error);
        }
      },
    };
  }
}

async function consume(limiter: RateLimiterMySQL, k: string): Promise<void> {
  try {
    await limiter.consume(k);
  } catch (error) {
    // A RateLimiterRes rejection means the limit is reached; anything else is the store failing.
    if (error instanceof RateLimiterRes) {
      throw new TooManyRequestsError(
        'too many failed logins, try again later',
        error.msBeforeNext / 1000,
      );
    }
    throw databaseError(error);
  }
}
