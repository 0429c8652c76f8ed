/*
 * The OpenAPI 3.1 document of the public API, served at /openapi.json. A plain object, kept
 * true by test/openapi.int.test.ts: every route of the app is here and everything here is a
 * route, and the status codes and bodies the gateway really answers are the ones listed.
 */

import {
  DEFAULT_BITRATE_KBPS,
  MAX_VBR_QUALITY,
  MIN_VBR_QUALITY,
  MP3_BITRATES_KBPS,
} from '@mp3converter/contracts';
import { DEFAULT_PAGE_SIZE, JOB_STATUSES, MAX_PAGE_SIZE } from '@mp3converter/jobs';
import { DEFAULT_CHECK_TIMEOUT_MS } from '@mp3converter/lifecycle';

const problemJson = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
} as const;

const validationProblemJson = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/ValidationProblem' } },
} as const;

const bearer = [{ bearerAuth: [] }] as const;

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
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: {
                  file: {
                    type: 'string',
                    contentMediaType: 'application/octet-stream',
                    description:
                      'The video (any container ffmpeg reads, with an audio track). Its file name is kept, made safe: path parts and control characters are removed.',
                  },
                  bitrate: {
                    type: 'integer',
                    enum: MP3_BITRATES_KBPS,
                    description: `Constant bitrate in kbit/s (${DEFAULT_BITRATE_KBPS} when neither is given).`,
                  },
                  quality: {
                    type: 'integer',
                    minimum: MIN_VBR_QUALITY,
                    maximum: MAX_VBR_QUALITY,
                    description: `LAME variable bitrate quality instead: ${MIN_VBR_QUALITY} best to ${MAX_VBR_QUALITY} smallest.`,
                  },
                },
              },
            },
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
          },
          '400': {
            description:
              'Not multipart (`NOT_MULTIPART`, `MALFORMED_MULTIPART`), no file or several (`NO_FILE`, `TOO_MANY_FILES`, `TOO_MANY_PARTS`, `FIELD_TOO_LONG`), an empty file (`EMPTY_FILE`), or bad options (`VALIDATION_FAILED`, with `errors`).',
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
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: false,
            description: 'Jobs per page.',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_PAGE_SIZE,
              default: DEFAULT_PAGE_SIZE,
            },
          },
          {
            name: 'cursor',
            in: 'query',
            required: false,
            description: 'The `nextCursor` of the previous page.',
            schema: { type: 'string', minLength: 1, maxLength: 256 },
          },
        ],
        responses: {
          '200': {
            description: 'A page of jobs; `nextCursor` is absent on the last page.',
            headers: { 'Cache-Control': { $ref: '#/components/headers/NoStore' } },
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/JobList' } },
            },
          },
          '400': {
            description: `\`limit\` is not a whole number from 1 to ${MAX_PAGE_SIZE} (\`INVALID_QUERY\`) or \`cursor\` is not one this server gave out (\`INVALID_CURSOR\`).`,
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
          {
            name: 'fid',
            in: 'query',
            required: true,
            description: 'The `mp3Fid` of a done job.',
            schema: { type: 'string' },
          },
          {
            name: 'expires',
            in: 'query',
            required: false,
            description: 'Signed link: Unix time (seconds) after which it stops working.',
            schema: { type: 'integer', minimum: 0 },
          },
          {
            name: 'sig',
            in: 'query',
            required: false,
            description: 'Signed link: its signature (HMAC-SHA256, base64url).',
            schema: { type: 'string' },
          },
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
      Problem: {
        type: 'object',
        description:
          'An RFC 9457 problem document, with the stable `code` clients switch on. Further members (`errors`, `checks`) may be added.',
        required: ['type', 'title', 'status', 'code', 'detail'],
        properties: {
          type: {
            type: 'string',
            format: 'uri',
            description: '`urn:mp3converter:problem:<code in lower case, dashes>`.',
            examples: ['urn:mp3converter:problem:job-not-found'],
          },
          title: {
            type: 'string',
            description: "The status's reason phrase.",
            examples: ['Not Found'],
          },
          status: { type: 'integer', minimum: 400, maximum: 599 },
          detail: { type: 'string', description: 'What went wrong, in words for people.' },
          code: {
            type: 'string',
            pattern: '^[A-Z][A-Z0-9_]*$',
            examples: ['JOB_NOT_FOUND'],
          },
          requestId: {
            type: 'string',
            description: 'The correlation id of the request (also `X-Request-Id`).',
          },
        },
        additionalProperties: true,
      },
      ValidationProblem: {
        description: 'A problem document; with `VALIDATION_FAILED`, the fields at fault.',
        allOf: [
          { $ref: '#/components/schemas/Problem' },
          {
            type: 'object',
            properties: {
              errors: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['path', 'message'],
                  properties: { path: { type: 'string' }, message: { type: 'string' } },
                  additionalProperties: false,
                },
              },
            },
          },
        ],
      },
      ReadinessProblem: {
        allOf: [
          { $ref: '#/components/schemas/Problem' },
          {
            type: 'object',
            required: ['checks'],
            properties: { checks: { $ref: '#/components/schemas/Checks' } },
          },
        ],
      },
      Checks: {
        type: 'object',
        description: 'Each check (mongodb, rabbitmq, auth) and how it went.',
        additionalProperties: { type: 'string', enum: ['ok', 'unavailable'] },
      },
      Liveness: {
        type: 'object',
        required: ['status'],
        properties: { status: { type: 'string', const: 'ok' } },
        additionalProperties: false,
      },
      Readiness: {
        type: 'object',
        required: ['status', 'checks'],
        properties: {
          status: { type: 'string', const: 'ready' },
          checks: { $ref: '#/components/schemas/Checks' },
        },
        additionalProperties: false,
      },
      IssuedToken: {
        type: 'object',
        required: ['token', 'expiresAt'],
        properties: {
          token: { type: 'string', description: 'The JWT.' },
          expiresAt: { type: 'string', format: 'date-time' },
        },
        additionalProperties: false,
      },
      Registration: {
        type: 'object',
        required: ['email', 'password'],
        properties: {
          email: { type: 'string', format: 'email', maxLength: 254 },
          password: {
            type: 'string',
            description: '8 to 256 characters (Unicode code points).',
          },
        },
      },
      Account: {
        type: 'object',
        required: ['id', 'email'],
        properties: {
          id: { type: 'integer' },
          email: { type: 'string', format: 'email' },
        },
        additionalProperties: false,
      },
      JobView: {
        type: 'object',
        description: 'What a client sees of a job.',
        required: [
          'jobId',
          'status',
          'progress',
          'filename',
          'options',
          'videoFid',
          'videoSize',
          'videoContentType',
          'videoSha256',
          'createdAt',
          'updatedAt',
        ],
        properties: {
          jobId: { type: 'string', format: 'uuid' },
          status: {
            type: 'string',
            enum: JOB_STATUSES,
            description: '`queued` → `converting` → `done` or `failed`.',
          },
          progress: { type: 'integer', minimum: 0, maximum: 100 },
          filename: { type: 'string', description: "The uploaded file's (safe) name." },
          options: { $ref: '#/components/schemas/Mp3Options' },
          videoFid: { $ref: '#/components/schemas/Fid' },
          videoSize: { type: 'integer', minimum: 1, description: 'Bytes.' },
          videoContentType: { type: 'string' },
          videoSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          durationSeconds: { type: 'number', minimum: 0 },
          mp3Fid: {
            $ref: '#/components/schemas/Fid',
            description: 'When done: the `fid` for GET /download.',
          },
          mp3Filename: { type: 'string' },
          mp3Size: { type: 'integer', minimum: 0, description: 'Bytes.' },
          downloadUrl: {
            type: 'string',
            format: 'uri-reference',
            description:
              'When done: a signed link that downloads the MP3 without a token, until `downloadUrlExpiresAt`.',
          },
          downloadUrlExpiresAt: { type: 'string', format: 'date-time' },
          error: { type: 'string', description: 'When failed: why, in plain words.' },
          errorCode: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
          startedAt: { type: 'string', format: 'date-time' },
          finishedAt: { type: 'string', format: 'date-time' },
        },
      },
      UploadAccepted: {
        description: 'The new job, and where to follow it.',
        allOf: [
          { $ref: '#/components/schemas/JobView' },
          {
            type: 'object',
            required: ['location'],
            properties: { location: { type: 'string', description: '`/jobs/<jobId>`.' } },
          },
        ],
        unevaluatedProperties: false,
      },
      JobList: {
        type: 'object',
        required: ['jobs'],
        properties: {
          jobs: { type: 'array', items: { $ref: '#/components/schemas/JobView' } },
          nextCursor: {
            type: 'string',
            description: 'Pass as `cursor` for the next (older) page; absent on the last.',
          },
        },
        additionalProperties: false,
      },
      Mp3Options: {
        description: `Constant bitrate (kbit/s) or LAME variable bitrate quality; the default is \`{ "bitrate": ${DEFAULT_BITRATE_KBPS} }\`.`,
        oneOf: [
          {
            type: 'object',
            required: ['bitrate'],
            properties: { bitrate: { type: 'integer', enum: MP3_BITRATES_KBPS } },
            additionalProperties: false,
          },
          {
            type: 'object',
            required: ['quality'],
            properties: {
              quality: { type: 'integer', minimum: MIN_VBR_QUALITY, maximum: MAX_VBR_QUALITY },
            },
            additionalProperties: false,
          },
        ],
      },
      Fid: {
        type: 'string',
        pattern: '^[0-9a-f]{24}$',
        description: "A stored file's id (24 hex digits).",
      },
      Mp3: { type: 'string', contentMediaType: 'audio/mpeg' },
    },
  },
} as const;
