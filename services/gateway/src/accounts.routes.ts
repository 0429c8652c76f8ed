import { isIP } from 'node:net';
import express, { Router, type Request, type Response } from 'express';
import type { AuthClient } from './auth-client.ts';

/** Auth's bodies are small; the gateway refuses a larger one before passing it on. */
const MAX_ACCOUNT_BODY = '16kb';

/**
 * POST /login and POST /register, passed through to auth: the client gets auth's status,
 * body and the headers it acts on (WWW-Authenticate, Retry-After), as the original's
 * `curl -X POST -u email:password http://mp3converter.com/login` expects.
 */
/**
 * The client's address as the gateway's own TRUST_PROXY reads X-Forwarded-For (from the
 * Ingress). Only this goes on to auth: a chain sent by the client itself would let it pick a
 * fresh throttle key per request wherever auth trusts the hop it came through.
 */
function clientAddress(req: Request): string {
  const address = req.ip;
  return address !== undefined && isIP(address) !== 0
    ? address
    : (req.socket.remoteAddress ?? 'unknown');
}

export function accountsRoutes(auth: AuthClient): Router {
  const router = Router();
  // Any content type: auth decides what it accepts, and says so in its own words.
  const rawBody = express.raw({ type: () => true, limit: MAX_ACCOUNT_BODY });

  const pass = (path: '/login' | '/register') => async (req: Request, res: Response) => {
    const answer = await auth.forward(path, {
      headers: req.headers,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      clientAddress: clientAddress(req),
    });
    res.status(answer.status).set(answer.headers).send(answer.body);
  };

  router.post('/login', rawBody, pass('/login'));
  router.post('/register', rawBody, pass('/register'));
  return router;
}
