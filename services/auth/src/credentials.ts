import { UnauthorizedError } from '@mp3converter/errors';

export interface BasicCredentials {
  email: string;
  password: string;
}

// Generous bounds: a 254-character email and a 256-character password in
// base64 fit in well under 1 KiB; anything longer is not a real credential.
const MAX_BASIC_HEADER = 2048;
const MAX_BEARER_HEADER = 8192;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function splitScheme(header: string): [string, string] | undefined {
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  return [header.slice(0, space).toLowerCase(), header.slice(space + 1).trim()];
}

/** Parses `Authorization: Basic base64(email:password)`; every malformed header is a 401. */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials {
  const fail = (code: string, message: string): UnauthorizedError =>
    new UnauthorizedError(code, message, 'Basic');
  if (header === undefined || header === '') {
    throw fail('CREDENTIALS_REQUIRED', 'HTTP Basic credentials (email:password) are required');
  }
  if (header.length > MAX_BASIC_HEADER)
    throw fail('MALFORMED_CREDENTIALS', 'the Authorization header is too long');
  const parts = splitScheme(header);
  if (parts?.[0] !== 'basic')
    throw fail('CREDENTIALS_REQUIRED', 'the Authorization header must use the Basic scheme');
  const encoded = parts[1];
  if (encoded === '' || !BASE64.test(encoded)) {
    throw fail('MALFORMED_CREDENTIALS', 'the Basic credentials are not valid base64');
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    throw fail('MALFORMED_CREDENTIALS', 'the Basic credentials are not valid UTF-8');
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0)
    throw fail('MALFORMED_CREDENTIALS', 'the Basic credentials must be email:password');
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Extracts the token of `Authorization: Bearer <jwt>`; anything else is a 401. */
export function parseBearerAuthorization(header: string | undefined): string {
  const fail = (code: string, message: string): UnauthorizedError =>
    new UnauthorizedError(code, message, 'Bearer');
  if (header === undefined || header === '')
    throw fail('TOKEN_REQUIRED', 'a Bearer token is required');
  if (header.length > MAX_BEARER_HEADER) throw fail('INVALID_TOKEN', 'the token is too long');
  const parts = splitScheme(header);
  if (parts?.[0] !== 'bearer')
    throw fail('TOKEN_REQUIRED', 'the Authorization header must use the Bearer scheme');
  if (!JWT_SHAPE.test(parts[1])) throw fail('INVALID_TOKEN', 'the token is malformed');
  return parts[1];
}
