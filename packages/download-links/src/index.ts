import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed download links: `/download?fid=<mp3 fid>&expires=<unix seconds>&sig=<HMAC>`. A link
 * clicked in an email or used as an `<audio src>` carries no Authorization header, so the
 * link itself proves that the owner was given it. The gateway checks them; the gateway (for
 * the job view) and the notification service (for emails) make them, with the same secret.
 *
 * The signature is HMAC-SHA256 over a purpose tag, the fid and the expiry, in base64url.
 * The tag keeps a signature made here from being valid for any other use of the secret.
 */

export const DOWNLOAD_PATH = '/download';
/**
 * The secret the gateway and the notification service fall back to with NODE_ENV=development
 * (`./scripts/up`), so that links made by one work in the other. Never in a deployment.
 */
export const DEVELOPMENT_DOWNLOAD_LINK_SECRET = 'development-only-download-link-secret-0123456789';
const PURPOSE = 'mp3converter download v1';
/** An HMAC-SHA256 in base64url without padding is always 43 characters. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const UNIX_SECONDS = /^[0-9]{1,12}$/;

export interface SignedDownload {
  fid: string;
  /** Unix time in seconds after which the link no longer works. */
  expires: number;
  sig: string;
}

function signature(secret: string, fid: string, expires: number): string {
  return createHmac('sha256', secret).update(`${PURPOSE}\n${fid}\n${expires}`).digest('base64url');
}

function assertSecret(secret: string): void {
  if (Buffer.byteLength(secret, 'utf8') < 32) {
    throw new RangeError('the download link secret must be at least 32 bytes');
  }
}

/** Signs a link to `fid` that works for `ttlSeconds` from `now`. */
export function signDownload(
  secret: string,
  fid: string,
  ttlSeconds: number,
  now: Date = new Date(),
): SignedDownload {
  assertSecret(secret);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
  const expires = Math.floor(now.getTime() / 1000) + ttlSeconds;
  return { fid, expires, sig: signature(secret, fid, expires) };
}

/**
 * The link as a URL: absolute when `baseUrl` is given (`http://mp3converter.com`, or with a
 * path prefix: `https://example.com/mp3`, for emails),
 * else the path and query alone (for the web page and the job view).
 */
export function downloadUrl(link: SignedDownload, baseUrl?: string): string {
  const query = new URLSearchParams({
    fid: link.fid,
    expires: String(link.expires),
    sig: link.sig,
  });
  const path = `${DOWNLOAD_PATH}?${query.toString()}`;
  if (baseUrl === undefined) return path;
  // Relative to the base as a directory, so that a path prefix (`https://host/mp3`) is kept.
  const directory = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return new URL(path.slice(1), directory).toString();
}

/**
 * True when `sig` was made with `secret` for this fid and expiry, and the expiry has not
 * passed at `now`. Any malformed part is simply false: callers answer it like an unknown fid.
 */
export function verifyDownload(
  secret: string,
  link: { fid: unknown; expires: unknown; sig: unknown },
  now: Date = new Date(),
): boolean {
  assertSecret(secret);
  const { fid, expires, sig } = link;
  if (typeof fid !== 'string' || typeof expires !== 'string' || typeof sig !== 'string') {
    return false;
  }
  if (!UNIX_SECONDS.test(expires) || !SIGNATURE.test(sig)) return false;
  const expiresAt = Number(expires);
  if (expiresAt * 1000 <= now.getTime()) return false;
  // Compared as text, not decoded: the last base64url character carries two spare bits,
  // so decoding would accept four spellings of one signature.
  const expected = Buffer.from(signature(secret, fid, expiresAt), 'ascii');
  return timingSafeEqual(expected, Buffer.from(sig, 'ascii'));
}
