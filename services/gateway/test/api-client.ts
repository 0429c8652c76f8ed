/*
 * One typed client of the gateway's public API for tests (as PeerTube's server-commands): each
 * method sends the token, asserts the status it expects (the operation's success status unless
 * told otherwise) and answers the status, headers and body, typed from the API's zod schemas.
 * An expected error status makes the body the problem document, asserted to be one. Tests of
 * malformed requests send those raw: the client only sends well-formed ones.
 */

import assert from 'node:assert/strict';
import type { z } from 'zod';
import type {
  JobList,
  JobView,
  UploadAccepted,
  accountSchema,
  validationProblemSchema,
} from '../src/api-schemas.ts';

export type { JobList, JobView, UploadAccepted };
export type Account = z.infer<typeof accountSchema>;
/** An RFC 9457 problem document, with the fields at fault of VALIDATION_FAILED. */
export type Problem = z.infer<typeof validationProblemSchema>;

/** What came back. */
export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Statuses the API answers with a problem document. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 415 | 416 | 429 | 503;

/** A status, or `'any'`: the answer whatever its status (the caller looks at it). */
export type Expected = number | 'any';

export interface CallOptions<S extends Expected = Expected> {
  /** Asserted (one of them, for a list); the operation's success status by default. */
  expectedStatus?: S | readonly S[];
  /** Sent instead of the client's token; `null` sends no Authorization header. */
  token?: string | null;
  /** Further request headers (Range, Accept, X-Forwarded-For…). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The body of an answer: the success type, or the problem of an expected error. */
type BodyOf<S extends Expected, Success extends number, T> = S extends Success
  ? T
  : S extends ErrorStatus
    ? Problem
    : T | Problem;

/** A video for POST /upload: its bytes, name and type, and the form's option fields. */
export interface VideoUpload {
  content: Uint8Array;
  filename?: string;
  type?: string;
  fields?: Record<string, string>;
}

/** A multipart form with one file (and optional text fields), as `curl -F` sends it. */
export function videoForm({
  content,
  filename = 'clip.mp4',
  type = 'video/mp4',
  fields = {},
}: VideoUpload): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  // A copy: a Blob takes bytes over an ArrayBuffer, not a view that may share its memory.
  form.append('file', new Blob([new Uint8Array(content)], { type }), filename);
  return form;
}

function basicAuth(email: string, password: string): string {
  return `Basic ${Buffer.from(`${email}:${password}`, 'utf8').toString('base64')}`;
}

export interface Credentials {
  email: string;
  password: string;
}

interface Request {
  method: string;
  path: string;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  /** How a successful body reads (problems are always JSON). */
  read: 'json' | 'text' | 'bytes';
}

export class GatewayClient {
  readonly #server: { readonly url: string };
  /** Sent as `Authorization: Bearer` unless a call says otherwise. */
  readonly token: string | undefined;

  /** `server.url` is read at each call: a restarted server may listen elsewhere. */
  constructor(server: { readonly url: string }, token?: string) {
    this.#server = server;
    this.token = token;
  }

  get url(): string {
    return this.#server.url;
  }

  /** The same server, as the user of `token`. */
  as(token: string | undefined): GatewayClient {
    return new GatewayClient(this.#server, token);
  }

  /** POST /register. */
  register<S extends Expected = 201>(
    credentials: Credentials,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 201, Account>>> {
    return this.#call(
      {
        method: 'POST',
        path: '/register',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
        read: 'json',
      },
      { token: null, ...options },
      201,
    );
  }

  /** POST /login with Basic credentials; the body is the token (text/plain, as curl gets it). */
  login<S extends Expected = 200>(
    { email, password }: Credentials,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 200, string>>> {
    return this.#call(
      {
        method: 'POST',
        path: '/login',
        headers: { authorization: basicAuth(email, password) },
        read: 'text',
      },
      { token: null, ...options },
      200,
    );
  }

  /** POST /upload of one video as a multipart form. */
  upload<S extends Expected = 202>(
    video: VideoUpload | FormData,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 202, UploadAccepted>>> {
    const body = video instanceof FormData ? video : videoForm(video);
    return this.#call({ method: 'POST', path: '/upload', body, read: 'json' }, options, 202);
  }

  /** GET /jobs/{jobId}. */
  getJob<S extends Expected = 200>(
    jobId: string,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 200, JobView>>> {
    return this.#call({ method: 'GET', path: `/jobs/${jobId}`, read: 'json' }, options, 200);
  }

  /** GET /jobs; a string query is sent as it is (to repeat or leave out a parameter). */
  listJobs<S extends Expected = 200>(
    query: { limit?: number | string; cursor?: string } | string = {},
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 200, JobList>>> {
    const search =
      typeof query === 'string'
        ? query
        : new URLSearchParams(
            Object.entries(query).map(([name, value]): [string, string] => [name, String(value)]),
          ).toString();
    const path = search === '' ? '/jobs' : `/jobs?${search}`;
    return this.#call({ method: 'GET', path, read: 'json' }, options, 200);
  }

  /** DELETE /jobs/{jobId}; the body of a 204 is the empty string it must be. */
  deleteJob<S extends Expected = 204>(
    jobId: string,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 204, string>>> {
    return this.#call({ method: 'DELETE', path: `/jobs/${jobId}`, read: 'text' }, options, 204);
  }

  /** GET /download?fid=…; the body is the MP3's bytes (those of the range with a 206). */
  download<S extends Expected = 200>(
    fid: string,
    options: CallOptions<S> = {},
  ): Promise<Answer<BodyOf<S, 200 | 206 | 304, Buffer>>> {
    const path = `/download?${new URLSearchParams({ fid }).toString()}`;
    return this.#call({ method: 'GET', path, read: 'bytes' }, options, 200);
  }

  async #call<T>(
    request: Request,
    { expectedStatus, token = this.token, headers = {}, signal }: CallOptions,
    successStatus: number,
  ): Promise<Answer<T>> {
    const { method, path, body, read } = request;
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(token === null || token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...request.headers,
        ...headers,
      },
      body,
      signal,
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = (): string => bytes.toString('utf8');
    const what = `${method} ${path}`;
    const expected = [expectedStatus ?? successStatus].flat();
    const type = response.headers.get('content-type') ?? '';
    let parsed: unknown;
    if (expected.includes('any')) {
      // Whatever came: JSON when it says so, else as the operation reads it.
      parsed = /^application\/(problem\+)?json/.test(type)
        ? JSON.parse(text())
        : read === 'bytes'
          ? bytes
          : text();
    } else {
      assert.ok(
        expected.includes(response.status),
        `${what}: HTTP ${response.status}, not ${expected.join(' or ')}: ${text()}`,
      );
      if (response.status >= 400) {
        assert.match(type, /^application\/problem\+json/, `${what}: a problem document`);
        parsed = JSON.parse(text());
      } else if (read === 'json') {
        parsed = JSON.parse(text());
      } else {
        parsed = read === 'text' ? text() : bytes;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }
}
