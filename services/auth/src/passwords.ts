import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { z } from 'zod';

// @node-rs/argon2 defaults to argon2id with m=19 MiB, t=2, p=1: the OWASP
// recommendation. Its Algorithm enum is a const enum that isolatedModules
// cannot import, so the defaults are relied on and a test checks "$argon2id$".

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

/**
 * The one password rule, for registration, login and ADMIN_PASSWORD alike.
 * Length counts Unicode code points: an emoji is one, not two UTF-16 units.
 * Not graphemes, whose segmentation rules change with Unicode versions and
 * could turn a valid password invalid after a Node upgrade.
 */
export function passwordLengthProblem(password: string): string | undefined {
  const length = Array.from(password).length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

/**
 * At login only the upper bound applies: it keeps oversized input away from argon2, while
 * accounts made under an older minimum can still log in.
 */
export function passwordTooLong(password: string): boolean {
  return Array.from(password).length > MAX_PASSWORD_LENGTH;
}

export const passwordSchema = z
  .string({ error: 'must be a string' })
  .superRefine((password, ctx) => {
    const problem = passwordLengthProblem(password);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

export async function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is a failed login, not a 500.
    return false;
  }
}

/**
 * A hash of a random password, verified against when the email is unknown so
 * that a wrong email costs the same time as a wrong password.
 */
export async function createDecoyHash(): Promise<string> {
  return hash(randomBytes(32).toString('base64'));
}
