import { UnauthorizedError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import type { BasicCredentials } from './credentials.ts';
import { normalizeEmail } from './emails.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { passwordTooLong, verifyPassword } from './passwords.ts';
import { issueToken, type IssuedToken, type TokenSettings } from './tokens.ts';
import type { UsersRepository } from './users.repository.ts';

export interface LoginDeps {
  users: UsersRepository;
  throttle: LoginThrottle;
  tokens: TokenSettings;
  /** Verified against when no account matches, so that every failure costs the same time. */
  decoyHash: string;
  log: Logger;
}

/** Email and password in, token out: throttled, and the same work for every kind of failure. */
export class Login {
  private readonly deps: LoginDeps;
  private readonly log: Logger;

  constructor(deps: LoginDeps) {
    this.deps = deps;
    this.log = deps.log.child({ module: 'login' });
  }

  async attempt(credentials: BasicCredentials, ip: string): Promise<IssuedToken> {
    const email = normalizeEmail(credentials.email);
    const counted = await this.deps.throttle.count(email, ip);
    const plausible = email !== undefined && !passwordTooLong(credentials.password);
    const user = plausible ? await this.deps.users.findByEmail(email) : undefined;
    const valid = await verifyPassword(
      user?.passwordHash ?? this.deps.decoyHash,
      credentials.password,
    );
    if (user === undefined || !valid) {
      this.log.info(
        { ip, reason: user === undefined ? 'unknown email' : 'wrong password' },
        'login failed',
      );
      throw new UnauthorizedError('INVALID_CREDENTIALS', 'wrong email or password', 'Basic');
    }
    await counted.succeeded();
    this.log.info({ userId: user.id }, 'login succeeded');
    return issueToken(this.deps.tokens, user);
  }
}
