import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Router } from 'express';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { AmqpConnection } from '@mp3converter/amqp';
import { openBucket } from '@mp3converter/gridfs';
import { JobStore } from '@mp3converter/jobs';
import { createLogger } from '@mp3converter/logging';
import { waitFor } from '@mp3converter/testkit';
import { accountsRoutes } from '../src/accounts.routes.ts';
import { createGatewayApp } from '../src/app.ts';
import { AuthClient } from '../src/auth-client.ts';
import { downloadRoutes } from '../src/download.routes.ts';
import type { JobView } from '../src/api-schemas.ts';
import { jobsRoutes } from '../src/jobs.routes.ts';
import { GatewayMetrics } from '../src/metrics.ts';
import { openApiDocument } from '../src/openapi.ts';
import { uploadRoutes } from '../src/upload.routes.ts';
import { webPageRoutes } from '../src/web-page.ts';
import { convertJob, failJob, uploadVideo } from './fake-converter.ts';
import {
  LINK_SECRET,
  basic,
  bearer,
  signUp,
  startTestSystem,
  videoForm,
  type TestSystem,
} from './support.ts';

/** Limits low enough that a test reaches them: 413, 408 and 429 are part of the battery. */
const MAX_UPLOAD_BYTES = 100_000;
const UPLOAD_IDLE_TIMEOUT_MS = 1_000;
const MAX_FAILURES_PER_EMAIL = 2;

let system: TestSystem;

before(async () => {
  system = await startTestSystem({
    env: {
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      UPLOAD_IDLE_TIMEOUT_MS: String(UPLOAD_IDLE_TIMEOUT_MS),
    },
    authEnv: { LOGIN_MAX_FAILURES_PER_EMAIL: String(MAX_FAILURES_PER_EMAIL) },
  });
});

after(async () => {
  await system.stop();
});

// ---------------------------------------------------------------------------------------------
// Reading the document

type Json = unknown;
type JsonObject = Record<string, Json>;

const document = openApiDocument as unknown as JsonObject;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value a local `$ref` (`#/components/...`) points to; throws when it points nowhere. */
function resolvePointer(ref: string): Json {
  assert.ok(ref.startsWith('#/'), `only local references are used: ${ref}`);
  let node: Json = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    assert.ok(isObject(node) && key in node, `${ref} does not resolve`);
    node = node[key];
  }
  return node;
}

/** Follows `$ref`s until a value that is not one. */
function deref(value: Json): JsonObject {
  return derefWithPointer(value, '').node;
}

/** deref, and the JSON pointer of what it arrives at (`at` when `value` is no reference). */
function derefWithPointer(value: Json, at: string): { node: JsonObject; pointer: string } {
  let node = value;
  let pointer = at;
  for (let hops = 0; isObject(node) && typeof node.$ref === 'string'; hops += 1) {
    assert.ok(hops < 10, 'reference cycle');
    pointer = node.$ref.slice(1);
    node = resolvePointer(node.$ref);
  }
  assert.ok(isObject(node), 'expected an object');
  return { node, pointer };
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** `/jobs/:jobId` → `/jobs/{jobId}`. */
function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

/** The documented response of an operation for a status, and where it is, or undefined. */
function documentedResponse(
  method: string,
  expressPath: string,
  status: number,
): { node: JsonObject; pointer: string } | undefined {
  const paths = document.paths as JsonObject;
  const path = openApiPath(expressPath);
  const item = paths[path];
  if (!isObject(item)) return undefined;
  const operation = item[method.toLowerCase()];
  if (!isObject(operation)) return undefined;
  const response = (operation.responses as JsonObject)[String(status)];
  const at = `/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}`;
  return response === undefined ? undefined : derefWithPointer(response, at);
}

// ---------------------------------------------------------------------------------------------
// Bodies are validated by ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses) against the document
// itself. The zod schemas close every object of a response (`additionalProperties: false`), so
// a field the gateway sends and the document does not name is caught.

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(JSON.parse(JSON.stringify(openApiDocument)) as object, 'openapi.json');

function validate(pointer: string, value: Json): string[] {
  const check = ajv.getSchema(`openapi.json#${pointer}`);
  assert.ok(check, `no schema at ${pointer}`);
  if (check(value)) return [];
  return (check.errors ?? []).map((error) => `${error.instancePath || '$'}: ${error.message}`);
}

// ---------------------------------------------------------------------------------------------
// Requests: each answer is checked against the document as it arrives.

interface Answer {
  method: string;
  /** The Express route path the request was meant for. */
  route: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

const answers: Answer[] = [];

function checkAgainstDocument(answer: Answer): void {
  const { method, route, status, headers, body } = answer;
  const what = `${method} ${route} ${status}`;
  const documentedAt = documentedResponse(method, route, status);
  assert.ok(
    documentedAt,
    `${what} is not in the document (${body.toString('utf8').slice(0, 300)})`,
  );
  const { node: response, pointer } = documentedAt;
  for (const [name, header] of Object.entries((response.headers ?? {}) as JsonObject)) {
    if (deref(header).required === true) {
      assert.ok(headers.has(name), `${what}: the document says ${name} is always sent`);
    }
  }
  const content = (response.content ?? {}) as JsonObject;
  if (body.length === 0) {
    assert.equal(Object.keys(content).length, 0, `${what}: documented with a body, sent none`);
    return;
  }
  const mediaType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
  const documented = content[mediaType];
  assert.ok(
    isObject(documented),
    `${what}: ${mediaType} is not documented (${Object.keys(content).join(', ') || 'no body'})`,
  );
  if (mediaType === 'application/json' || mediaType === 'application/problem+json') {
    const at = `${pointer}/content/${escapePointer(mediaType)}/schema`;
    const errors = validate(at, JSON.parse(body.toString('utf8')));
    assert.deepEqual(errors, [], `${what}: the body does not match the document`);
  }
}

function record(answer: Answer): Answer {
  answers.push(answer);
  checkAgainstDocument(answer);
  return answer;
}

async function call(
  method: string,
  route: string,
  pathAndQuery: string,
  init: { headers?: Record<string, string>; body?: RequestInit['body'] } = {},
): Promise<Answer> {
  const response = await fetch(`${system.url}${pathAndQuery}`, { method, ...init });
  const body = Buffer.from(await response.arrayBuffer());
  return record({ method, route, status: response.status, headers: response.headers, body });
}

function headersOf(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const one of [value ?? []].flat()) headers.append(name, one);
  }
  return headers;
}

/** An upload that sends its first bytes and then nothing, until the gateway gives up on it. */
async function stalledUpload(token: string): Promise<Answer> {
  const boundary = 'stalled-upload-boundary';
  const req = request(`${system.url}/upload`, {
    method: 'POST',
    headers: {
      ...bearer(token),
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(50_000),
    },
  });
  // The gateway closes the connection after answering; the unsent rest is not wanted.
  req.on('error', () => undefined);
  req.write(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.mp4"\r\n` +
      `Content-Type: video/mp4\r\n\r\n${'x'.repeat(1_000)}`,
  );
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  req.destroy();
  return record({
    method: 'POST',
    route: '/upload',
    status: res.statusCode ?? 0,
    headers: headersOf(res),
    body: Buffer.concat(chunks),
  });
}

function problemCode(answer: Answer): string {
  return (JSON.parse(answer.body.toString('utf8')) as { code: string }).code;
}

// ---------------------------------------------------------------------------------------------

describe('the OpenAPI document', () => {
  it('is a structurally sound OpenAPI 3.1 document', async () => {
    assert.equal(openApiDocument.openapi, '3.1.0');

    // Every $ref resolves.
    const refs: string[] = [];
    const collect = (node: Json): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (isObject(node)) {
        if (typeof node.$ref === 'string') refs.push(node.$ref);
        Object.values(node).forEach(collect);
      }
    };
    collect(document);
    assert.ok(refs.length > 0);
    for (const ref of refs) resolvePointer(ref);

    const schemes = Object.keys(openApiDocument.components.securitySchemes);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(document.paths as JsonObject)) {
      assert.ok(path.startsWith('/'), path);
      const pathItem = deref(item);
      for (const method of Object.keys(pathItem).filter((key) => HTTP_METHODS.includes(key))) {
        const operation = deref(pathItem[method]);
        const where = `${method.toUpperCase()} ${path}`;
        assert.equal(typeof operation.operationId, 'string', `${where} has an operationId`);
        assert.ok(!operationIds.has(String(operation.operationId)), `${where}: duplicate id`);
        operationIds.add(String(operation.operationId));

        // Every path template variable is a path parameter.
        const parameters = [
          ...((pathItem.parameters ?? []) as Json[]),
          ...((operation.parameters ?? []) as Json[]),
        ].map(deref);
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(
            parameters.some((p) => p.in === 'path' && p.name === name && p.required === true),
            `${where}: {${name}} is a required path parameter`,
          );
        }
        for (const requirement of (operation.security ?? []) as JsonObject[]) {
          for (const scheme of Object.keys(requirement)) {
            assert.ok(schemes.includes(scheme), `${where}: unknown security scheme ${scheme}`);
          }
        }

        const responses = operation.responses as JsonObject;
        assert.ok(Object.keys(responses).length > 0, `${where} has responses`);
        for (const [status, responseOrRef] of Object.entries(responses)) {
          assert.match(status, /^[1-5]\d\d$/, `${where}: status ${status}`);
          const response = deref(responseOrRef);
          assert.equal(typeof response.description, 'string', `${where} ${status}: description`);
          if (Number(status) < 400) continue;
          // Errors are problem documents.
          const content = (response.content ?? {}) as JsonObject;
          for (const [mediaType, media] of Object.entries(content)) {
            assert.equal(mediaType, 'application/problem+json', `${where} ${status}`);
            const schema = deref((media as JsonObject).schema);
            const isProblem =
              schema === deref({ $ref: '#/components/schemas/Problem' }) ||
              ((schema.allOf ?? []) as JsonObject[]).some(
                (branch) => branch.$ref === '#/components/schemas/Problem',
              );
            assert.ok(isProblem, `${where} ${status}: the schema is a Problem`);
          }
        }
      }
    }

    // Served as it is.
    const served = await call('GET', '/openapi.json', '/openapi.json');
    assert.equal(served.status, 200);
    assert.deepEqual(
      JSON.parse(served.body.toString('utf8')),
      JSON.parse(JSON.stringify(openApiDocument)),
    );
  });

  it("names every route of the gateway's Express app, and nothing else", async () => {
    const log = createLogger({ service: 'gateway', level: 'silent' });
    const auth = new AuthClient({ url: system.auth.url, timeoutMs: 1_000 });
    try {
      const metrics = new GatewayMetrics();
      const videos = openBucket(system.videos, 'fs');
      const mp3s = openBucket(system.mp3s, 'fs');
      const jobs = new JobStore(system.jobsDb);
      const links = { secret: LINK_SECRET, ttlSeconds: 60 };
      // The routers as server.ts builds them (their dependencies are not used: nothing is served).
      const routers: Router[] = [
        uploadRoutes({
          auth,
          amqp: Object.create(AmqpConnection.prototype) as AmqpConnection,
          jobs,
          videos,
          links,
          maxBytes: 1,
          idleTimeoutMs: 1,
          maxConcurrent: 1,
          inFlight: new Set(),
          metrics,
          log,
        }),
        jobsRoutes({ auth, jobs, videos, mp3s, links, log }),
        downloadRoutes({ auth, mp3s, linkSecret: LINK_SECRET, log }),
      ];
      // The app itself: probes, metrics, this document and the account routes.
      const app = createGatewayApp({
        log,
        metrics,
        trustProxy: 'loopback',
        bodyTimeoutMs: 1_000,
        webPage: webPageRoutes({ maxUploadBytes: 1 }),
        accountRoutes: accountsRoutes(auth),
        routes: () => undefined,
        readiness: {},
      });

      interface Layer {
        route?: { path: unknown; methods: Record<string, boolean> };
        handle: { stack?: Layer[] };
      }
      const registered = new Set<string>();
      const walk = (stack: Layer[]): void => {
        for (const layer of stack) {
          if (layer.route !== undefined) {
            assert.equal(typeof layer.route.path, 'string', 'routes have plain string paths');
            for (const method of Object.keys(layer.route.methods)) {
              assert.notEqual(method, '_all', `${String(layer.route.path)}: .all() is not used`);
              registered.add(`${method.toUpperCase()} ${openApiPath(String(layer.route.path))}`);
            }
          } else if (Array.isArray(layer.handle.stack)) {
            walk(layer.handle.stack);
          }
        }
      };
      walk(app.router.stack as unknown as Layer[]);
      for (const router of routers) walk(router.stack as unknown as Layer[]);

      const documented = new Set<string>();
      for (const [path, item] of Object.entries(document.paths as JsonObject)) {
        for (const method of Object.keys(deref(item)).filter((k) => HTTP_METHODS.includes(k))) {
          documented.add(`${method.toUpperCase()} ${path}`);
        }
      }
      assert.deepEqual([...registered].sort(), [...documented].sort());
    } finally {
      await auth.close();
    }
  });

  it('answers 405 with Allow to a method the document does not give a path', async () => {
    /** node:http rather than fetch, which refuses TRACE. */
    const send = async (method: string, path: string): Promise<Answer> => {
      const req = request(`${system.url}${path}`, { method });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return {
        method,
        route: path,
        status: res.statusCode ?? 0,
        headers: headersOf(res),
        body: Buffer.concat(chunks),
      };
    };
    const job = `/jobs/${randomUUID()}`;
    const cases: [string, string, string][] = [
      ['TRACE', '/', 'GET, HEAD'],
      ['POST', '/', 'GET, HEAD'],
      ['TRACE', '/upload', 'POST'],
      ['GET', '/upload', 'POST'],
      ['POST', '/jobs', 'GET, HEAD'],
      ['PATCH', job, 'GET, HEAD, DELETE'],
      ['PUT', `${job}/`, 'GET, HEAD, DELETE'],
      ['DELETE', '/download?fid=abc', 'GET, HEAD'],
      ['GET', '/login', 'POST'],
      ['DELETE', '/register', 'POST'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['TRACE', '/healthz', 'GET, HEAD'],
      ['PUT', '/readyz', 'GET, HEAD'],
      ['POST', '/assets/app.js', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const answer = await send(method, path);
      const what = `${method} ${path}`;
      assert.equal(answer.status, 405, what);
      assert.equal(answer.headers.get('allow'), allow, what);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
      assert.equal(problemCode(answer), 'METHOD_NOT_ALLOWED', what);
    }
    // An unknown path is still a 404, whatever the method.
    for (const method of ['GET', 'TRACE', 'POST']) {
      const answer = await send(method, '/no-such-route');
      assert.equal(answer.status, 404, method);
      assert.equal(problemCode(answer), 'ROUTE_NOT_FOUND', method);
    }
  });

  describe('answers a battery of real requests only as documented', () => {
    let owner: { email: string; password: string; token: string };
    let other: { token: string };

    before(async () => {
      owner = await signUp(system.url);
      other = await signUp(system.url);
    });

    it('accounts', async () => {
      const json = { 'content-type': 'application/json' };
      const email = `user-${randomUUID()}@example.com`;
      const registration = JSON.stringify({ email, password: 'a good long password' });
      const register = (body: string, headers: Record<string, string> = json) =>
        call('POST', '/register', '/register', { headers, body });
      assert.equal((await register(registration)).status, 201);
      assert.equal((await register(registration)).status, 409);
      assert.equal((await register(JSON.stringify({ email: 'nope', password: 'x' }))).status, 400);
      assert.equal((await register('{"email":')).status, 400);
      assert.equal((await register('x'.repeat(20_000))).status, 413);
      assert.equal(
        (await register(registration, { ...json, 'content-encoding': 'x-unknown' })).status,
        415,
      );

      const login = (headers: Record<string, string>) =>
        call('POST', '/login', '/login', { headers });
      const credentials = { authorization: basic(email, 'a good long password') };
      const text = await login(credentials);
      assert.equal(text.status, 200);
      assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
      const token = await login({ ...credentials, accept: 'application/json' });
      assert.equal(token.status, 200);
      assert.match(token.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal((await login({})).status, 401);
      for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i += 1) {
        assert.equal((await login({ authorization: basic(email, 'wrong password') })).status, 401);
      }
      assert.equal((await login(credentials)).status, 429);
    });

    it('uploads', async () => {
      const upload = (
        body: RequestInit['body'],
        headers: Record<string, string> = bearer(owner.token),
      ) => call('POST', '/upload', '/upload', { headers, body });
      const small = randomBytes(5_000);
      assert.equal((await upload(videoForm(small), {})).status, 401);
      assert.equal((await upload(videoForm(small), bearer('not.a.token'))).status, 401);
      const accepted = await upload(videoForm(small, { fields: { quality: '2' } }));
      assert.equal(accepted.status, 202);
      assert.equal((await upload(videoForm(small))).status, 202);
      assert.equal((await upload('just text')).status, 400);
      const badOptions = await upload(videoForm(small, { fields: { bitrate: '100' } }));
      assert.equal(badOptions.status, 400);
      assert.equal(problemCode(badOptions), 'VALIDATION_FAILED');
      // The document's form has no other fields: the server refuses one it does not know.
      const unknownField = await upload(videoForm(small, { fields: { colour: 'blue' } }));
      assert.equal(unknownField.status, 400);
      assert.equal(problemCode(unknownField), 'VALIDATION_FAILED');
      assert.equal((await upload(videoForm(new Uint8Array(0)))).status, 400);
      const tooLarge = await upload(videoForm(randomBytes(MAX_UPLOAD_BYTES + 20_000)));
      assert.equal(tooLarge.status, 413);
      const stalled = await stalledUpload(owner.token);
      assert.equal(stalled.status, 408);
    });

    it('jobs', async () => {
      const auth = bearer(owner.token);
      const queued = await uploadVideo(system, owner.token);
      const failed = await uploadVideo(system, owner.token);
      const moved = await failJob(system, failed.jobId, {
        code: 'NO_AUDIO_TRACK',
        message: 'the video has no audio track',
      });
      assert.equal(moved?.status, 'failed');
      const done = await uploadVideo(system, owner.token);
      await convertJob(system, done.jobId);

      assert.equal((await call('GET', '/jobs', '/jobs', { headers: auth })).status, 200);
      const page = await call('GET', '/jobs', '/jobs?limit=1', { headers: auth });
      const { nextCursor } = JSON.parse(page.body.toString('utf8')) as { nextCursor?: string };
      assert.ok(nextCursor !== undefined);
      const next = `/jobs?limit=1&cursor=${encodeURIComponent(nextCursor)}`;
      assert.equal((await call('GET', '/jobs', next, { headers: auth })).status, 200);
      assert.equal((await call('GET', '/jobs', '/jobs?limit=0', { headers: auth })).status, 400);
      assert.equal(
        (await call('GET', '/jobs', '/jobs?cursor=bogus', { headers: auth })).status,
        400,
      );
      assert.equal((await call('GET', '/jobs', '/jobs')).status, 401);

      const one = (jobId: string, headers: Record<string, string> = auth) =>
        call('GET', '/jobs/:jobId', `/jobs/${jobId}`, { headers });
      for (const { jobId } of [queued, failed, done]) assert.equal((await one(jobId)).status, 200);
      assert.equal((await one(randomUUID())).status, 404);
      assert.equal((await one(queued.jobId, bearer(other.token))).status, 404);
      assert.equal((await one(queued.jobId, {})).status, 401);

      const remove = (jobId: string, headers: Record<string, string> = auth) =>
        call('DELETE', '/jobs/:jobId', `/jobs/${jobId}`, { headers });
      assert.equal((await remove(queued.jobId, {})).status, 401);
      assert.equal((await remove(queued.jobId, bearer(other.token))).status, 404);
      assert.equal((await remove(queued.jobId)).status, 204);
      assert.equal((await remove(queued.jobId)).status, 404);
    });

    it('downloads', async () => {
      const auth = bearer(owner.token);
      const { jobId } = await uploadVideo(system, owner.token);
      const mp3 = await convertJob(system, jobId);
      const view = await call('GET', '/jobs/:jobId', `/jobs/${jobId}`, { headers: auth });
      const { downloadUrl } = JSON.parse(view.body.toString('utf8')) as JobView;
      assert.ok(downloadUrl !== undefined);

      const download = (query: string, headers: Record<string, string> = auth) =>
        call('GET', '/download', `/download${query}`, { headers });
      const whole = await download(`?fid=${mp3.fid}`);
      assert.equal(whole.status, 200);
      assert.deepEqual(whole.body, mp3.bytes);
      const signed = await call('GET', '/download', downloadUrl);
      assert.equal(signed.status, 200);
      const etag = whole.headers.get('etag') ?? '';
      assert.equal(
        (await download(`?fid=${mp3.fid}`, { ...auth, range: 'bytes=0-99' })).status,
        206,
      );
      // fetch() adds Cache-Control: no-cache to a conditional request unless told otherwise,
      // and a no-cache request is never answered 304.
      const conditional = { ...auth, 'if-none-match': etag, 'cache-control': 'max-age=0' };
      assert.equal((await download(`?fid=${mp3.fid}`, conditional)).status, 304);
      const beyond = `bytes=${mp3.bytes.length + 10}-`;
      assert.equal((await download(`?fid=${mp3.fid}`, { ...auth, range: beyond })).status, 416);
      assert.equal((await download('')).status, 400);
      assert.equal((await download(`?fid=${mp3.fid}`, {})).status, 401);
      assert.equal((await download(`?fid=${mp3.fid}`, bearer(other.token))).status, 404);
      assert.equal(
        (await download(`?fid=${mp3.fid}&expires=1&sig=${'A'.repeat(43)}`, {})).status,
        404,
      );
      assert.equal((await download('?fid=not-an-id')).status, 404);
    });

    it('probes, metrics and unknown paths', async () => {
      assert.equal((await call('GET', '/healthz', '/healthz')).status, 200);
      assert.equal((await call('GET', '/readyz', '/readyz')).status, 200);
      assert.equal((await call('GET', '/metrics', '/metrics')).status, 200);
      // Not a route: answered with a problem, counted as route="unmatched".
      const unknown = await fetch(`${system.url}/no-such-route`);
      assert.equal(unknown.status, 404);
      assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
    });

    it('outages', async () => {
      const auth = bearer(owner.token);
      await system.amqpProxy.cut();
      try {
        await waitFor(
          async () => {
            const answer = await call('POST', '/upload', '/upload', {
              headers: auth,
              body: videoForm(randomBytes(1_000)),
            });
            return answer.status === 503;
          },
          { what: 'uploads refused while RabbitMQ is unreachable' },
        );
        assert.equal((await call('GET', '/readyz', '/readyz')).status, 503);
      } finally {
        await system.amqpProxy.restore();
      }

      // Last: auth does not come back in this file.
      await system.auth.stopService();
      const unavailable = [
        await call('POST', '/login', '/login', { headers: { authorization: basic('a@b.c', 'x') } }),
        await call('POST', '/register', '/register', { body: '{}' }),
        await call('GET', '/jobs', '/jobs', { headers: auth }),
        await call('GET', '/jobs/:jobId', `/jobs/${randomUUID()}`, { headers: auth }),
        await call('DELETE', '/jobs/:jobId', `/jobs/${randomUUID()}`, { headers: auth }),
        await call('GET', '/download', `/download?fid=${'a'.repeat(24)}`, { headers: auth }),
        await call('POST', '/upload', '/upload', {
          headers: auth,
          body: videoForm(randomBytes(10)),
        }),
        await call('GET', '/readyz', '/readyz'),
      ];
      for (const answer of unavailable) {
        assert.equal(answer.status, 503, `${answer.method} ${answer.route}`);
      }
    });

    it('never answered 500', () => {
      const internal = answers.filter((answer) => answer.status >= 500 && answer.status !== 503);
      assert.deepEqual(
        internal.map((a) => `${a.method} ${a.route} ${a.status}`),
        [],
      );
    });
  });

  it('documents every (method, route, status) the gateway counted in /metrics', async () => {
    const response = await fetch(`${system.url}/metrics`);
    const counted = new Set<string>();
    for (const line of (await response.text()).split('\n')) {
      if (!line.startsWith('http_requests_total{')) continue;
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name, value]),
      ) as { method?: string; route?: string; status?: string };
      assert.ok(labels.method && labels.route && labels.status, line);
      if (labels.route === 'unmatched') continue;
      counted.add(`${labels.method} ${labels.route} ${labels.status}`);
      assert.ok(
        documentedResponse(labels.method, labels.route, Number(labels.status)),
        `${labels.method} ${labels.route} answered ${labels.status}, which is not in the document`,
      );
    }
    // The battery did reach every kind of answer.
    const statuses = new Set([...counted].map((entry) => entry.split(' ')[2]));
    for (const status of [
      200, 201, 202, 204, 206, 304, 400, 401, 404, 408, 409, 413, 415, 416, 429, 503,
    ]) {
      assert.ok(statuses.has(String(status)), `no ${status} counted`);
    }
    assert.ok(!statuses.has('500'), 'a 500 was counted');
  });
});
