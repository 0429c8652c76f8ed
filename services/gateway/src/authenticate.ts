import type { RequestHandler, Response } from 'express';
import type { AuthClient, User } from './auth-client.ts';

/** Checks the Bearer token with auth's /validate before the route runs; the user is then `currentUser(res)`. */
export function authenticate(auth: AuthClient): RequestHandler {
  return async (req, res, next) => {
    (res.locals as { user?: User }).user = await auth.validate(req.get('authorization'));
    next();
  };
}

/** The user `authenticate` let through. */
export function currentUser(res: Response): User {
  const { user } = res.locals as { user?: User };
  if (user === undefined) throw new Error('currentUser() on a route without authenticate()');
  return user;
}
