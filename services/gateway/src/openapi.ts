/*
 * The OpenAPI 3.1 document of the public API, served at /openapi.json. The paths and their
 * words are written here; every schema is generated from the zod schemas of api-schemas.ts,
 * which the handlers parse with. Kept true by test/openapi.int.test.ts (every route of the app
 * is here and everything here is a route; the answers are the ones listed) and by schemathesis
 * (tests/e2e/api-contract.e2e.test.ts: what the document allows, the server accepts).
 */

import { z } from 'zod';
import { DEFAULT_BITRATE_KBPS } from '@mp3converter/contracts';
import { MAX_PAGE_SIZE } from '@mp3converter/jobs';
import { DEFAULT_CHECK_TIMEOUT_MS } from '@mp3converter/lifecycle';
import { apiSchemas, downloadQuery, listJobsQuery, uploadForm } from './api-schemas.ts';

type JsonSchema = Record<string, unknown>;

/** Without the keywords of a standalone JSON Schema: it is a part of the document. */
function embedded(schema: JsonSchema): JsonSchema {
  const part = { ...schema };
  delete part.$schema;
  delete part.$id;
  return part;
}

/** A zod schema as a JSON Schema of the document. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  return embedded(z.toJSONSchema(schema, { io }));
}

/** The named schemas, each referring to the others as `#/components/schemas/<id>`. */
function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(apiSchemas, {
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, embedded(schema)]));
}

/** Query parameters, one for each field of a zod object; their words are the fields' descriptions. */
function queryParameters(query: z.ZodObject): Record<string, unknown>[] {
  return Object.entries(query.shape).map(([name, field]) => {
    const schema = jsonSchema(field as z.ZodType);
    const { description, ...rest } = schema;
    return {
      name,
      in: 'query',
      required: !(field as z.ZodType).safeParse(undefined).success,
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

const problemJson = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
} as const;

const validationProblemJson = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/ValidationProblem' } },
} as const;

const bearer = [{ bearerAuth: [] }] as const;

/** OpenAPI links from an answer that names a job to the operations on that job. */
function jobLinks(jobId: string): Record<string, unknown> {
  return {
    GetJob: { operationId: 'getJob', parameters: { jobId }, description: 'The job.' },
    DeleteJob: { operationId: 'deleteJob', parameters: { jobId }, description: 'Delete it.' },
  };
}

function downloadLink(fid: string): Record<string, unknown> {
  return {
    DownloadMp3: {
      operationId: 'downloadMp3',
      parameters: { fid },
      description: 'Its MP3, once done.',
    },
  };
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'mp3converter gateway',
    version: '0.1.0',
    summary: 'Upload a video, get the MP3.',
    description: [
      'Register, log in for a token, upload a video, follow its job and download the MP3.',
      '',
      '```',
      'TOKEN=$(curl -s -X POST -u email:password http://mp3converter.com/login)',
      'curl -X POST -H "Authorization: Bearer $TOKEN" -F file=@video.mp4 http://mp3converter.com/upload',
      'curl -H "Authorization: Bearer $TOKEN" http://mp3converter.com/jobs/<jobId>',
      'curl -OJ -H "Authorization: Bearer $TOKEN" "http://mp3converter.com/download?fid=<mp3Fid>"',
      '```',
      '',
      'Every error is an RFC 9457 problem document (`application/problem+json`) with a stable',
      '`code` to switch on and the `requestId` to quote when reporting it. Any request may also',
      'answer 500 (`INTERNAL`) on an unexpected error. A 503 always carries `Retry-After`.',
    ].join('\n'),
    license: { name: 'MIT', identifier: 'MIT' },
  },
  tags: [
    { name: 'accounts', description: 'Passed through to the auth service.' },
    { name: 'conversions', description: 'Uploads, jobs and downloads.' },
    { name: 'operations', description: 'Probes, metrics, this document and the web page.' },
  ],
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        tags: ['accounts'],
        summary: 'Exchange email and password for a token',
        description: [
          'HTTP Basic credentials (`curl -u email:password`) in, a JWT out, for',
          '`Authorization: Bearer <token>`. The token alone as text/plain (so that',
          '`TOKEN=$(curl ...)` works) unless the client prefers `application/json`.',
          'Failed logins are counted per email and per client address (the gateway passes the',
          'client address on in `X-Forwarded-For`); past either limit the answer is 429.',
        ].join(' '),
        security: [{ basicAuth: [] }],
        parameters: [
          {
            name: 'Accept',
            in: 'header',
            required: false,
            description: '`application/json` for the JSON form; anything else gets text/plain.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'The token.',
            headers: { 'Cache-Control': { $ref: '#/components/headers/NoStore' } },
            content: {
              'text/plain': { schema: { type: 'string', description: 'The JWT.' } },
              'application/json': { schema: { $ref: '#/components/schemas/IssuedToken' } },
            },
          },
          '401': {
            description:
              'No, malformed or wrong credentials (`CREDENTIALS_REQUIRED`, `MALFORMED_CREDENTIALS`, `INVALID_CREDENTIALS`).',
            headers: { 'WWW-Authenticate': { $ref: '#/components/headers/BasicChallenge' } },
            content: problemJson,
          },
          '413': { $ref: '#/components/responses/AccountBodyTooLarge' },
          '415': { $ref: '#/components/responses/UnsupportedBodyEncoding' },
          '429': {
            description:
              'Too many failed logins for this email or from this address (`TOO_MANY_REQUESTS`).',
            headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
            content: problemJson,
          },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/register': {
      post: {
        operationId: 'register',
        tags: ['accounts'],
        summary: 'Create an account',
        description: 'Open registration, when the server allows it (auth `REGISTRATION_ENABLED`).',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Registration' } },
          },
        },
        responses: {
          '201': {
            description: 'The account was created.',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Account' } },
            },
          },
          '400': {
            description:
              'The body is not JSON (`INVALID_JSON`) or the email or password is not valid (`VALIDATION_FAILED`, with `errors`).',
            content: validationProblemJson,
          },
          '403': {
            description: 'Registration is switched off on this server (`REGISTRATION_DISABLED`).',
            content: problemJson,
          },
          '409': {
            description: 'An account with this email already exists (`EMAIL_TAKEN`).',
            content: problemJson,
          },
          '413': { $ref: '#/components/responses/AccountBodyTooLarge' },
          '415': { $ref: '#/components/responses/UnsupportedBodyEncoding' },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/upload': {
      post: {
        operationId: 'uploadVideo',
        tags: ['conversions'],
        summary: 'Upload a video to convert',
        description: [
          'A multipart form with exactly one file (`curl -F file=@video.mp4`). The file streams',
          'into storage while it arrives; then a `queued` job is created and the conversion',
          `requested. Without \`bitrate\` or \`quality\` the MP3 is constant bitrate ${DEFAULT_BITRATE_KBPS} kbit/s;`,
          "give one of them, not both. The largest file accepted is the server's",
          '`MAX_UPLOAD_BYTES`, by default 2 GiB (2147483648 bytes). Any failure removes what was',
          'stored; after a 503 the upload may simply be repeated. A gateway takes',
          '`MAX_CONCURRENT_UPLOADS` (by default 32) at once; past that it answers 503',
          '`TOO_MANY_UPLOADS` before reading the body.',
        ].join(' '),
        security: bearer,
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': { schema: jsonSchema(uploadForm, 'input') },
          },
        },
        responses: {
          '202': {
            description: 'Stored and queued: follow the job at `Location`.',
            headers: {
              Location: {
                description: 'The job, `/jobs/<jobId>`.',
                required: true,
                schema: { type: 'string' },
              },
            },
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/UploadAccepted' } },
            },
            links: jobLinks('$response.body#/jobId'),
          },
          '400': {
            description:
              'Not multipart (`NOT_MULTIPART`, `MALFORMED_MULTIPART`), no file or several (`NO_FILE`, `TOO_MANY_FILES`, `TOO_MANY_PARTS`, `FIELD_TOO_LONG`), an empty file (`EMPTY_FILE`), or bad options or a field the form does not have (`VALIDATION_FAILED`, with `errors`).',
            content: validationProblemJson,
          },
          '401': { $ref: '#/components/responses/BearerUnauthorized' },
          '408': {
            description:
              'The client sent nothing for `UPLOAD_IDLE_TIMEOUT_MS` (default 60 s) in the middle of the upload (`UPLOAD_STALLED`).',
            content: problemJson,
          },
          '413': {
            description: 'The file is larger than `MAX_UPLOAD_BYTES` (`FILE_TOO_LARGE`).',
            content: problemJson,
          },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/jobs': {
      get: {
        operationId: 'listJobs',
        tags: ['conversions'],
        summary: "The caller's jobs, newest first",
        security: bearer,
        parameters: queryParameters(listJobsQuery),
        responses: {
          '200': {
            description: 'A page of jobs; `nextCursor` is absent on the last page.',
            headers: { 'Cache-Control': { $ref: '#/components/headers/NoStore' } },
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/JobList' } },
            },
            links: {
              ...jobLinks('$response.body#/jobs/0/jobId'),
              ...downloadLink('$response.body#/jobs/0/mp3Fid'),
              NextPage: {
                operationId: 'listJobs',
                parameters: { cursor: '$response.body#/nextCursor' },
                description: 'The next (older) page.',
              },
            },
          },
          '400': {
            description: `\`limit\` is not a whole number from 1 to ${MAX_PAGE_SIZE} (\`INVALID_QUERY\`) or \`cursor\` is not of the form of a \`nextCursor\` (\`INVALID_CURSOR\`).`,
            content: problemJson,
          },
          '401': { $ref: '#/components/responses/BearerUnauthorized' },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/jobs/{jobId}': {
      parameters: [{ $ref: '#/components/parameters/JobId' }],
      get: {
        operationId: 'getJob',
        tags: ['conversions'],
        summary: "One of the caller's jobs",
        description:
          'Its status and progress; once `done`, the MP3 (`mp3Fid`) and a short-lived signed `downloadUrl`; once `failed`, why.',
        security: bearer,
        responses: {
          '200': {
            description: 'The job.',
            headers: { 'Cache-Control': { $ref: '#/components/headers/NoStore' } },
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/JobView' } },
            },
            links: downloadLink('$response.body#/mp3Fid'),
          },
          '401': { $ref: '#/components/responses/BearerUnauthorized' },
          '404': { $ref: '#/components/responses/JobNotFound' },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
      delete: {
        operationId: 'deleteJob',
        tags: ['conversions'],
        summary: "Delete one of the caller's jobs with its video and MP3",
        description:
          'A conversion under way finds the job gone and leaves nothing behind. An interrupted delete (503) is finished by repeating it.',
        security: bearer,
        responses: {
          '204': { description: 'The job and its files are gone.' },
          '401': { $ref: '#/components/responses/BearerUnauthorized' },
          '404': { $ref: '#/components/responses/JobNotFound' },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/download': {
      get: {
        operationId: 'downloadMp3',
        tags: ['conversions'],
        summary: 'Download an MP3',
        description: [
          "The owner's (or an admin's) MP3, with a Bearer token; or, without a token, with a",
          "signed link (`expires` and `sig`, from a job's `downloadUrl` or the notification",
          "email). An unknown or malformed fid, someone else's MP3 and a bad or expired link all",
          'answer the same 404. Single byte ranges (206, 416) and conditional requests (304) are',
          'served.',
        ].join(' '),
        security: [{ bearerAuth: [] }, {}],
        parameters: [
          ...queryParameters(downloadQuery),
          {
            name: 'Range',
            in: 'header',
            required: false,
            description: 'One byte range, e.g. `bytes=0-1023`.',
            schema: { type: 'string' },
          },
          {
            name: 'If-Range',
            in: 'header',
            required: false,
            description: 'The ETag: the range applies only if the file is still that one.',
            schema: { type: 'string' },
          },
          {
            name: 'If-None-Match',
            in: 'header',
            required: false,
            description: 'The ETag of a copy the client has: 304 when it is current.',
            schema: { type: 'string' },
          },
          {
            name: 'If-Modified-Since',
            in: 'header',
            required: false,
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'The whole MP3, named after the video (`<name>.mp3`).',
            headers: {
              'Content-Disposition': { $ref: '#/components/headers/ContentDisposition' },
              ETag: { $ref: '#/components/headers/ETag' },
              'Last-Modified': { $ref: '#/components/headers/LastModified' },
              'Accept-Ranges': { $ref: '#/components/headers/AcceptRanges' },
              'Cache-Control': { $ref: '#/components/headers/PrivateCache' },
            },
            content: { 'audio/mpeg': { schema: { $ref: '#/components/schemas/Mp3' } } },
          },
          '206': {
            description: 'The requested byte range of the MP3.',
            headers: {
              'Content-Range': {
                description: '`bytes <first>-<last>/<size>`.',
                required: true,
                schema: { type: 'string' },
              },
              'Content-Disposition': { $ref: '#/components/headers/ContentDisposition' },
              ETag: { $ref: '#/components/headers/ETag' },
              'Last-Modified': { $ref: '#/components/headers/LastModified' },
              'Accept-Ranges': { $ref: '#/components/headers/AcceptRanges' },
              'Cache-Control': { $ref: '#/components/headers/PrivateCache' },
            },
            content: { 'audio/mpeg': { schema: { $ref: '#/components/schemas/Mp3' } } },
          },
          '304': {
            description: "The client's copy (`If-None-Match`, `If-Modified-Since`) is current.",
            headers: { ETag: { $ref: '#/components/headers/ETag' } },
          },
          '400': {
            description: '`fid` is missing (`FID_REQUIRED`).',
            content: problemJson,
          },
          '401': { $ref: '#/components/responses/BearerUnauthorized' },
          '404': {
            description:
              "No MP3 with this fid is the caller's, or the signed link is bad or expired (`FILE_NOT_FOUND`).",
            content: problemJson,
          },
          '416': {
            description:
              'The range lies outside the file (`RANGE_NOT_SATISFIABLE`); `Content-Range` gives the size.',
            headers: {
              'Content-Range': {
                description: '`bytes */<size>`.',
                required: true,
                schema: { type: 'string' },
              },
            },
            content: problemJson,
          },
          '500': { $ref: '#/components/responses/Internal' },
          '503': { $ref: '#/components/responses/Unavailable' },
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'liveness',
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        description: 'Depends on nothing else, so that an outage elsewhere restarts nothing.',
        security: [],
        responses: {
          '200': {
            description: 'Alive.',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Liveness' } },
            },
          },
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        tags: ['operations'],
        summary: 'Readiness: MongoDB, RabbitMQ and auth can be used now',
        description: `Each check is bounded (${DEFAULT_CHECK_TIMEOUT_MS} ms), so the probe answers even when one hangs.`,
        security: [],
        responses: {
          '200': {
            description: 'Every check passed.',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Readiness' } },
            },
          },
          '503': {
            description: 'The checks that failed are named in `detail` and `checks`.',
            headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
            content: {
              'application/problem+json': {
                schema: { $ref: '#/components/schemas/ReadinessProblem' },
              },
            },
          },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description: [
          '`http_requests_total` and `http_request_duration_seconds` by method, route pattern',
          '(`/jobs/:jobId`, never the raw path; `unmatched` for unknown paths) and status;',
          '`upload_bytes_total`; `uploads_total` by outcome (accepted, rejected, aborted, failed);',
          'and the Node.js process metrics.',
        ].join(' '),
        security: [],
        responses: {
          '200': {
            description: 'The Prometheus text format, version 0.0.4.',
            headers: { 'Cache-Control': { $ref: '#/components/headers/NoStore' } },
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '500': { $ref: '#/components/responses/Internal' },
        },
      },
    },
    '/': {
      get: {
        operationId: 'webPage',
        tags: ['operations'],
        summary: 'The web page: sign in, upload, follow jobs, listen, download',
        description:
          'A single page that drives this API from a browser. Its script, stylesheet and icon are under `/assets/`, linked with their content hash and cached for a year.',
        security: [],
        responses: {
          '200': {
            description: 'The page.',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
          '304': { description: 'The page has not changed since the ETag sent in If-None-Match.' },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openApiDocument',
        tags: ['operations'],
        summary: 'This document',
        security: [],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document of this API.',
            content: {
              'application/json': { schema: { type: 'object', additionalProperties: true } },
            },
          },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'The token from POST /login.',
      },
      basicAuth: {
        type: 'http',
        scheme: 'basic',
        description: 'Email and password, for POST /login only.',
      },
    },
    parameters: {
      JobId: {
        name: 'jobId',
        in: 'path',
        required: true,
        description: "The `jobId` of the upload's answer.",
        schema: { type: 'string', format: 'uuid' },
      },
    },
    headers: {
      RetryAfter: {
        description: 'Seconds to wait before trying again.',
        required: true,
        schema: { type: 'integer', minimum: 1 },
      },
      BasicChallenge: {
        description: '`Basic realm="mp3converter", charset="UTF-8"`.',
        required: true,
        schema: { type: 'string' },
      },
      BearerChallenge: {
        description: '`Bearer realm="mp3converter"`.',
        required: true,
        schema: { type: 'string' },
      },
      NoStore: { schema: { type: 'string', const: 'no-store' } },
      PrivateCache: { schema: { type: 'string' } },
      ContentDisposition: {
        description: "`attachment` with the MP3's name.",
        schema: { type: 'string' },
      },
      ETag: { description: 'Quoted fid of the MP3.', schema: { type: 'string' } },
      LastModified: { schema: { type: 'string' } },
      AcceptRanges: { schema: { type: 'string', const: 'bytes' } },
    },
    responses: {
      BearerUnauthorized: {
        description:
          'No token (`TOKEN_REQUIRED`), or one that is malformed, expired or forged (`INVALID_TOKEN`, …).',
        headers: { 'WWW-Authenticate': { $ref: '#/components/headers/BearerChallenge' } },
        content: problemJson,
      },
      JobNotFound: {
        description:
          "The caller has no job with this id (`JOB_NOT_FOUND`); someone else's job is answered the same.",
        content: problemJson,
      },
      AccountBodyTooLarge: {
        description: 'The body is larger than 16 KiB (`BODY_TOO_LARGE`).',
        content: problemJson,
      },
      UnsupportedBodyEncoding: {
        description:
          "The body's `Content-Encoding` or charset is not supported (`UNSUPPORTED_ENCODING`, `UNSUPPORTED_CHARSET`).",
        content: problemJson,
      },
      Internal: {
        description: 'An unexpected error (`INTERNAL`): quote the `requestId` when reporting it.',
        content: problemJson,
      },
      Unavailable: {
        description:
          'A dependency (MongoDB, RabbitMQ, auth) is unavailable (`DEPENDENCY_UNAVAILABLE`), or, for an upload, the gateway takes as many as it can (`TOO_MANY_UPLOADS`): try again after `Retry-After`.',
        headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
        content: problemJson,
      },
    },
    schemas: {
      ...componentSchemas(),
      Mp3: { type: 'string', contentMediaType: 'audio/mpeg' },
    },
  },
} as const;
