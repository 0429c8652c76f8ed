import express, { type Express, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  DependencyUnavailableError,
  ForbiddenError,
  UnauthorizedError,
  ValidationError,
} from '@mp3converter/errors';
import {
  accessLog,
  healthRoutes,
  notFoundHandler,
  problemHandler,
  requestContext,
} from '@mp3converter/http';
import type { Logger } from '@mp3converter/logging';
import { parseBasicAuthorization, parseBearerAuthorization } from './credentials.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { issueToken, verifyToken, type TokenSettings } from './tokens.ts';
import { emailKey, type UsersRepository } from './users.repository.ts';

export interface AuthAppDeps {
  log: Logger;
  users: UsersRepository;
  throttle: LoginThrottle;
  tokens: TokenSettings;
  decoyHash: string;
  registrationEnabled: boolean;
  trustProxy: string;
  /** False until migrations have run: requests answer 503 meanwhile. */
  isReady: () => boolean;
  checkDatabase: () => Promise<void>;
}

export const MAX_EMAIL_LENGTH = 254;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

const registration = z.object({
  email: z.email({ error: 'must be a valid email address' }).max(MAX_EMAIL_LENGTH),
  password: z
    .string({ error: 'must be a string' })
    .min(MIN_PASSWORD_LENGTH, { error: `must be at least ${MIN_PASSWORD_LENGTH} characters` })
    .max(MAX_PASSWORD_LENGTH, { error: `must be at most ${MAX_PASSWORD_LENGTH} characters` }),
});

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

export function createAuthApp(deps: AuthAppDeps): Express {
  const log = deps.log.child({ module: 'accounts' });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.use(requestContext());
  app.use(accessLog(deps.log));
  app.use(healthRoutes({ database: deps.checkDatabase }));

  const whenReady: RequestHandler = (_req, _res, next) => {
    next(deps.isReady() ? undefined : new DependencyUnavailableError('database'));
  };
  app.use(whenReady);

  app.post('/login', async (req, res) => {
    const credentials = parseBasicAuthorization(req.get('authorization'));
    const key = emailKey(credentials.email);
    const ip = clientAddress(req);
    await deps.throttle.check(key, ip);

    const plausible =
      credentials.email.length <= MAX_EMAIL_LENGTH &&
      credentials.password.length <= MAX_PASSWORD_LENGTH;
    const user = plausible ? await deps.users.findByEmail(credentials.email) : undefined;
    // Unknown emails are checked against a decoy hash: the same work as a wrong password.
    const valid = await verifyPassword(user?.passwordHash ?? deps.decoyHash, credentials.password);
    if (user === undefined || !valid) {
      await deps.throttle.recordFailure(key, ip);
      log.info(
        { ip, reason: user === undefined ? 'unknown email' : 'wrong password' },
        'login failed',
      );
      throw new UnauthorizedError('INVALID_CREDENTIALS', 'wrong email or password', 'Basic');
    }
    await deps.throttle.recordSuccess(key);
    const issued = issueToken(deps.tokens, user);
    log.info({ userId: user.id }, 'login succeeded');
    res.setHeader('Cache-Control', 'no-store');
    // The token alone as text/plain keeps `TOKEN=$(curl ... /login)` working, as in the original.
    if (req.accepts(['text/plain', 'application/json']) === 'application/json') {
      res.json({ token: issued.token, expiresAt: issued.expiresAt });
    } else {
      res.type('text/plain').send(issued.token);
    }
  });

  app.post('/validate', (req, res) => {
    const claims = verifyToken(deps.tokens, parseBearerAuthorization(req.get('authorization')));
    res.json(claims);
  });

  app.post('/register', express.json({ limit: '8kb' }), async (req, res) => {
    if (!deps.registrationEnabled) {
      throw new ForbiddenError(
        'REGISTRATION_DISABLED',
        'registration is switched off on this server',
      );
    }
    const parsed = registration.safeParse(req.body);
    if (!parsed.success) {
      throw new ValidationError(
        'the registration is not valid',
        parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join('.') || 'body',
          message:
            issue.path.length === 0
              ? 'must be a JSON object with email and password'
              : issue.message,
        })),
      );
    }
    const user = await deps.users.create({
      email: parsed.data.email,
      passwordHash: await hashPassword(parsed.data.password),
      isAdmin: false,
    });
    log.info({ userId: user.id }, 'user registered');
    res.status(201).location(`/users/${user.id}`).json({ id: user.id, email: user.email });
  });

  app.use(notFoundHandler());
  app.use(problemHandler(deps.log.child({ module: 'errors' })));
  return app;
}
