import { isIP } from 'node:net';
import express, { Router, type Request } from 'express';
import { ForbiddenError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { register } from './accounts.ts';
import { parseBasicAuthorization, parseBearerAuthorization } from './credentials.ts';
import type { Login } from './login.ts';
import { verifyToken, type TokenSettings } from './tokens.ts';
import type { UsersRepository } from './users.repository.ts';

export interface AccountsRoutesDeps {
  login: Login;
  users: UsersRepository;
  tokens: TokenSettings;
  registrationEnabled: boolean;
  log: Logger;
}

/**
 * The client's address, as Express reads it from X-Forwarded-For through the
 * trusted proxies. A forwarded value that is not an IP address is the sender's
 * invention: the connecting peer is used instead, so it cannot pick a fresh
 * throttle key per request.
 */
function clientAddress(req: Request): string {
  const forwarded = req.ip;
  if (forwarded !== undefined && isIP(forwarded) !== 0) return forwarded;
  return req.socket.remoteAddress ?? 'unknown';
}

/** POST /login, /validate and /register: HTTP in and out, the work done elsewhere. */
export function accountsRoutes(deps: AccountsRoutesDeps): Router {
  const log = deps.log.child({ module: 'accounts' });
  const router = Router();

  router.post('/login', async (req, res) => {
    const issued = await deps.login.attempt(
      parseBasicAuthorization(req.get('authorization')),
      clientAddress(req),
    );
    res.setHeader('Cache-Control', 'no-store');
    // The token alone as text/plain keeps `TOKEN=$(curl ... /login)` working, as in the original.
    if (req.accepts(['text/plain', 'application/json']) === 'application/json') {
      res.json({ token: issued.token, expiresAt: issued.expiresAt });
    } else {
      res.type('text/plain').send(issued.token);
    }
  });

  router.post('/validate', (req, res) => {
    const claims = verifyToken(deps.tokens, parseBearerAuthorization(req.get('authorization')));
    res.json(claims);
  });

  router.post('/register', express.json({ limit: '8kb' }), async (req, res) => {
    if (!deps.registrationEnabled) {
      throw new ForbiddenError(
        'REGISTRATION_DISABLED',
        'registration is switched off on this server',
      );
    }
    const user = await register(deps.users, req.body);
    log.info({ userId: user.id }, 'user registered');
    res.status(201).location(`/users/${user.id}`).json({ id: user.id, email: user.email });
  });

  return router;
}
