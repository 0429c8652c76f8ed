import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { UnauthorizedError } from '@mp3converter/errors';

export interface TokenSettings {
  secret: string;
  ttlSeconds: number;
  issuer: string;
  audience: string;
}

export interface TokenSubject {
  id: number;
  email: string;
  isAdmin: boolean;
}

export const claimsSchema = z.object({
  sub: z.string().min(1),
  email: z.string(),
  username: z.string(),
  admin: z.boolean(),
  iat: z.number().int(),
  exp: z.number().int(),
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
});

export type Claims = z.infer<typeof claimsSchema>;

export interface IssuedToken {
  token: string;
  expiresAt: string;
}

export function issueToken(settings: TokenSettings, subject: TokenSubject): IssuedToken {
  const token = jwt.sign(
    // `username` is the email, as in the original, so existing clients keep working.
    { email: subject.email, username: subject.email, admin: subject.isAdmin },
    settings.secret,
    {
      algorithm: 'HS256',
      subject: String(subject.id),
      expiresIn: settings.ttlSeconds,
      issuer: settings.issuer,
      audience: settings.audience,
    },
  );
  const { exp } = jwt.decode(token) as { exp: number };
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/** Verifies signature (HS256 only: `none` and every other algorithm are refused), expiry, issuer and audience. */
export function verifyToken(settings: TokenSettings, token: string): Claims {
  let payload: unknown;
  try {
    payload = jwt.verify(token, settings.secret, {
      algorithms: ['HS256'],
      issuer: settings.issuer,
      audience: settings.audience,
    });
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) {
      throw new UnauthorizedError('TOKEN_EXPIRED', 'the token has expired', 'Bearer', {
        cause: error,
      });
    }
    throw new UnauthorizedError('INVALID_TOKEN', 'the token is not valid', 'Bearer', {
      cause: error,
    });
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    throw new UnauthorizedError('INVALID_TOKEN', 'the token claims are not valid', 'Bearer');
  return claims.data;
}
