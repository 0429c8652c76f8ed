import { z } from 'zod';
import { ValidationError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { MAX_EMAIL_LENGTH, normalizeEmail } from './emails.ts';
import { hashPassword, passwordSchema } from './passwords.ts';
import type { User, UsersRepository } from './users.repository.ts';

const registration = z.object({
  email: z.email({ error: 'must be a valid email address' }).max(MAX_EMAIL_LENGTH),
  password: passwordSchema,
});

function invalid(fields: { path: string; message: string }[]): ValidationError {
  return new ValidationError('the registration is not valid', fields);
}

async function createAccount(
  users: UsersRepository,
  email: string,
  password: string,
  isAdmin: boolean,
): Promise<User> {
  const emailKey = normalizeEmail(email);
  if (emailKey === undefined) {
    throw invalid([{ path: 'email', message: 'must be a valid email address' }]);
  }
  return users.create({ email, emailKey, passwordHash: await hashPassword(password), isAdmin });
}

/** Validates a registration body and creates the (non-admin) account. */
export async function register(users: UsersRepository, body: unknown): Promise<User> {
  const parsed = registration.safeParse(body);
  if (!parsed.success) {
    throw invalid(
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || 'body',
        message:
          issue.path.length === 0 ? 'must be a JSON object with email and password' : issue.message,
      })),
    );
  }
  return createAccount(users, parsed.data.email, parsed.data.password, false);
}

/** Creates the configured admin once; an existing account is left as it is. */
export async function ensureAdmin(
  users: UsersRepository,
  admin: { email: string; password: string },
  log: Logger,
): Promise<void> {
  const emailKey = normalizeEmail(admin.email);
  const existing = emailKey === undefined ? undefined : await users.findByEmail(emailKey);
  if (existing !== undefined) {
    if (!existing.isAdmin)
      log.warn({ userId: existing.id }, 'configured admin email belongs to a non-admin user');
    return;
  }
  try {
    const created = await createAccount(users, admin.email, admin.password, true);
    log.info({ userId: created.id }, 'admin user created');
  } catch (error) {
    // Another replica created it first.
    if ((error as { code?: unknown }).code !== 'EMAIL_TAKEN') throw error;
  }
}
