import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

// @node-rs/argon2 defaults to argon2id with m=19 MiB, t=2, p=1: the OWASP
// recommendation. Its Algorithm enum is a const enum that isolatedModules
// cannot import, so the defaults are relied on and a test checks "$argon2id$".

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
