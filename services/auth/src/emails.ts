export const MAX_EMAIL_LENGTH = 254;

/** An email in the one form it is stored, looked up and throttled by. */
export type EmailKey = string & { readonly __emailKey: never };

const WHITESPACE_OR_CONTROL = /[\s\p{C}]/u;

/**
 * Trims and lower-cases an email, once, for every use: MariaDB's collations
 * ignore trailing spaces, so a key that kept them would count failed logins
 * apart from the account they reach. Undefined when no account can have it.
 */
export function normalizeEmail(email: string): EmailKey | undefined {
  const key = email.trim().toLowerCase();
  if (key === '' || key.length > MAX_EMAIL_LENGTH || WHITESPACE_OR_CONTROL.test(key)) {
    return undefined;
  }
  return key as EmailKey;
}
