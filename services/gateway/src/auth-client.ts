import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { DependencyUnavailableError, UnauthorizedError } from '@mp3converter/errors';
import { createHttpClient, type HttpClient, type OutboundResponse } from '@mp3converter/http';

/** Who is calling, as auth's /validate vouches for the token. */
export interface User {
  /** The user id (JWT `sub`). */
  id: string;
  email: string;
  admin: boolean;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  email: z.email(),
  admin: z.boolean().default(false),
});

/** The problem document auth answers with, as far as the gateway reads it. */
const problemSchema = z.object({ code: z.string(), detail: z.string() });

/**
 * Headers of auth's answers that /login and /register pass on to the client. Not Location:
 * auth's `/users/<id>` is no path of the public API.
 */
const PASSED_HEADERS = [
  'content-type',
  'www-authenticate',
  'retry-after',
  'cache-control',
] as const;

export interface ForwardedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface AuthClientOptions {
  url: string;
  timeoutMs: number;
}

/**
 * The auth service, over a keep-alive pool with a time limit on every call: when auth is
 * down, slow or overloaded the caller gets DependencyUnavailableError (503), never a hang.
 */
export class AuthClient {
  readonly #http: HttpClient;

  constructor(options: AuthClientOptions) {
    this.#http = createHttpClient({
      baseUrl: options.url,
      dependency: 'auth',
      timeoutMs: options.timeoutMs,
    });
  }

  /**
   * The user the `Authorization` header's token belongs to. A missing, malformed, expired
   * or forged token is UnauthorizedError with auth's own code and words.
   */
  async validate(authorization: string | undefined): Promise<User> {
    if (authorization === undefined) {
      throw new UnauthorizedError(
        'TOKEN_REQUIRED',
        'send Authorization: Bearer <token> (the token from POST /login)',
        'Bearer',
      );
    }
    const response = await this.#http.request({
      method: 'POST',
      path: '/validate',
      headers: { authorization },
    });
    if (response.status === 200) {
      const claims = claimsSchema.safeParse(parseJson(response.body));
      if (!claims.success) throw new DependencyUnavailableError('auth');
      return { id: claims.data.sub, email: claims.data.email, admin: claims.data.admin };
    }
    if (response.status === 401 || response.status === 400) {
      const problem = problemSchema.safeParse(parseJson(response.body));
      throw problem.success
        ? new UnauthorizedError(problem.data.code, problem.data.detail, 'Bearer')
        : new UnauthorizedError('INVALID_TOKEN', 'the token is not valid', 'Bearer');
    }
    // 429, 5xx, or anything auth should not have said: auth cannot vouch right now.
    throw new DependencyUnavailableError('auth', {
      cause: new Error(`auth answered /validate with ${response.status}`),
    });
  }

  /**
   * Passes a client's /login or /register to auth and hands back auth's answer as it is:
   * status, body and the headers clients act on. `clientAddress` (the client as the gateway
   * sees it) goes on as X-Forwarded-For, so auth throttles per client, not per gateway.
   */
  async forward(
    path: '/login' | '/register',
    request: { headers: IncomingHttpHeaders; body: Buffer; clientAddress: string },
  ): Promise<ForwardedAnswer> {
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept'] as const) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    headers['x-forwarded-for'] = request.clientAddress;
    const response = await this.#http.request({
      method: 'POST',
      path,
      headers,
      body: request.body,
    });
    return { status: response.status, headers: passedHeaders(response), body: response.body };
  }

  /** Resolves when auth answers its liveness probe, for /readyz. */
  async ping(): Promise<void> {
    const response = await this.#http.request({ method: 'GET', path: '/healthz' });
    if (response.status !== 200) {
      throw new DependencyUnavailableError('auth', {
        cause: new Error(`auth answered /healthz with ${response.status}`),
      });
    }
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}

function passedHeaders(response: OutboundResponse): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = response.headers[name];
    if (typeof value === 'string') passed[name] = value;
  }
  return passed;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
