/*
 * The public API's request and response shapes, as zod schemas: the handlers parse with them,
 * their types are `z.infer` of them, and openapi.ts generates the document's schemas from
 * them. Each schema registered in `apiSchemas` becomes `#/components/schemas/<id>`.
 */

import { z } from 'zod';
import {
  DEFAULT_BITRATE_KBPS,
  MAX_VBR_QUALITY,
  MIN_VBR_QUALITY,
  MP3_BITRATES_KBPS,
} from '@mp3converter/contracts';
import { DEFAULT_PAGE_SIZE, JOB_STATUSES, MAX_PAGE_SIZE } from '@mp3converter/jobs';

/** The document's named schemas. */
export const apiSchemas = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  apiSchemas.add(schema, { id });
  return schema;
}

const timestamp = z.iso.datetime();

export const fidSchema = named(
  'Fid',
  z
    .string()
    .regex(/^[0-9a-f]{24}$/)
    .describe("A stored file's id (24 hex digits)."),
);

export const mp3OptionsSchema = named(
  'Mp3Options',
  z
    .union([
      z.object({ bitrate: z.literal(MP3_BITRATES_KBPS) }),
      z.object({ quality: z.int().min(MIN_VBR_QUALITY).max(MAX_VBR_QUALITY) }),
    ])
    .describe(
      `Constant bitrate (kbit/s) or LAME variable bitrate quality; the default is \`{ "bitrate": ${DEFAULT_BITRATE_KBPS} }\`.`,
    ),
);

export const jobViewSchema = named(
  'JobView',
  z
    .object({
      jobId: z.uuid(),
      status: z.enum(JOB_STATUSES).describe('`queued` → `converting` → `done` or `failed`.'),
      progress: z.int().min(0).max(100),
      filename: z.string().describe("The uploaded file's (safe) name."),
      options: mp3OptionsSchema,
      videoFid: fidSchema,
      videoSize: z.int().min(1).describe('Bytes.'),
      videoContentType: z.string(),
      videoSha256: z.string().regex(/^[0-9a-f]{64}$/),
      durationSeconds: z.number().min(0).optional(),
      /** When done: the `fid` for GET /download. */
      mp3Fid: fidSchema.optional(),
      mp3Filename: z.string().optional(),
      mp3Size: z.int().min(0).optional().describe('Bytes.'),
      /** A signed link that downloads the MP3 without a token, for a short while. */
      downloadUrl: z
        .string()
        .meta({ format: 'uri-reference' })
        .optional()
        .describe(
          'When done: a signed link that downloads the MP3 without a token, until `downloadUrlExpiresAt`.',
        ),
      downloadUrlExpiresAt: timestamp.optional(),
      /** Why the job failed, in plain words. */
      error: z.string().optional().describe('When failed: why, in plain words.'),
      errorCode: z.string().optional(),
      createdAt: timestamp,
      updatedAt: timestamp,
      startedAt: timestamp.optional(),
      finishedAt: timestamp.optional(),
    })
    .describe('What a client sees of a job.'),
);
/** What a client sees of a job (GET /jobs/{id}, GET /jobs, the 202 of an upload). */
export type JobView = z.infer<typeof jobViewSchema>;

export const uploadAcceptedSchema = named(
  'UploadAccepted',
  jobViewSchema
    .extend({ location: z.string().describe('`/jobs/<jobId>`.') })
    .describe('The new job, and where to follow it.'),
);
export type UploadAccepted = z.infer<typeof uploadAcceptedSchema>;

/**
 * A position in the list: `<createdAt in ms>.<jobId>` of the last job of a page. Any value of
 * this form is a valid position (the next page holds the jobs created before it). Up to 13
 * digits (until the year 2286): a later date is more than some stores can hold.
 */
const CURSOR_FORM = /^(\d{1,13})\.([0-9a-f-]{36})$/;

const cursorSchema = z.string().min(1).max(256).regex(CURSOR_FORM);

export const jobListSchema = named(
  'JobList',
  z.object({
    jobs: z.array(jobViewSchema),
    nextCursor: cursorSchema
      .optional()
      .describe('Pass as `cursor` for the next (older) page; absent on the last.'),
  }),
);
export type JobList = z.infer<typeof jobListSchema>;

/** The query of GET /jobs. */
export const listJobsQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .describe('Jobs per page.'),
  cursor: cursorSchema.optional().describe('The `nextCursor` of the previous page.'),
});

/** The createdAt and id a cursor names. */
export function cursorPosition(cursor: string): { createdAt: Date; id: string } {
  const [, time = '', id = ''] = CURSOR_FORM.exec(cursor) ?? [];
  return { createdAt: new Date(Number(time)), id };
}

/** The query of GET /download. */
export const downloadQuery = z.object({
  fid: z.string().min(1).describe('The `mp3Fid` of a done job.'),
  expires: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Signed link: Unix time (seconds) after which it stops working.'),
  sig: z.string().optional().describe('Signed link: its signature (HMAC-SHA256, base64url).'),
});

/**
 * The text fields of the upload form, as sent (every form value is a string): the MP3
 * options, and nothing else.
 */
export const uploadFormFields = z.strictObject({
  bitrate: z
    .enum(MP3_BITRATES_KBPS.map(String) as [string, ...string[]], {
      message: `bitrate must be one of ${MP3_BITRATES_KBPS.join(', ')} (kbit/s)`,
    })
    .transform(Number)
    .optional()
    .describe(
      `Constant bitrate in kbit/s (${DEFAULT_BITRATE_KBPS} when neither is given). Not with \`quality\`.`,
    ),
  quality: z
    .string()
    .regex(
      /^[0-9]$/,
      `quality must be a whole number from ${MIN_VBR_QUALITY} to ${MAX_VBR_QUALITY}`,
    )
    .transform(Number)
    .optional()
    .describe(
      `LAME variable bitrate quality instead: ${MIN_VBR_QUALITY} best to ${MAX_VBR_QUALITY} smallest. Not with \`bitrate\`.`,
    ),
});

/** The whole form of POST /upload, for the document: the file (busboy reads it) and the fields. */
export const uploadForm = uploadFormFields
  .extend({
    file: z
      .string()
      .min(1)
      .meta({ contentMediaType: 'application/octet-stream' })
      .describe(
        'The video (any container ffmpeg reads, with an audio track). Its file name is kept, made safe: path parts and control characters are removed.',
      ),
  })
  .meta({ not: { required: ['bitrate', 'quality'] } });

export const problemSchema = named(
  'Problem',
  z
    .looseObject({
      type: z
        .string()
        .meta({
          format: 'uri',
          examples: ['urn:mp3converter:problem:job-not-found'],
        })
        .describe('`urn:mp3converter:problem:<code in lower case, dashes>`.'),
      title: z
        .string()
        .meta({ examples: ['Not Found'] })
        .describe("The status's reason phrase."),
      status: z.int().min(400).max(599),
      detail: z.string().describe('What went wrong, in words for people.'),
      code: z
        .string()
        .regex(/^[A-Z][A-Z0-9_]*$/)
        .meta({ examples: ['JOB_NOT_FOUND'] }),
      requestId: z
        .string()
        .optional()
        .describe('The correlation id of the request (also `X-Request-Id`).'),
    })
    .describe(
      'An RFC 9457 problem document, with the stable `code` clients switch on. Further members (`errors`, `checks`) may be added.',
    ),
);

export const validationProblemSchema = named(
  'ValidationProblem',
  z
    .intersection(
      problemSchema,
      z.looseObject({
        errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      }),
    )
    .describe('A problem document; with `VALIDATION_FAILED`, the fields at fault.'),
);

export const checksSchema = named(
  'Checks',
  z
    .record(z.string(), z.enum(['ok', 'unavailable']))
    .describe('Each check (mongodb, rabbitmq, auth) and how it went.'),
);

export const readinessProblemSchema = named(
  'ReadinessProblem',
  z.intersection(problemSchema, z.looseObject({ checks: checksSchema })),
);

export const livenessSchema = named('Liveness', z.object({ status: z.literal('ok') }));

export const readinessSchema = named(
  'Readiness',
  z.object({ status: z.literal('ready'), checks: checksSchema }),
);

export const issuedTokenSchema = named(
  'IssuedToken',
  z.object({ token: z.string().describe('The JWT.'), expiresAt: timestamp }),
);

/**
 * An email address as auth checks it (zod's email pattern). Not `format: email`: that also
 * limits parts of the address, which auth does not.
 */
const emailAddress = z.string().regex(z.regexes.email);

export const registrationSchema = named(
  'Registration',
  z.looseObject({
    email: emailAddress.max(254),
    password: z.string().min(8).max(256).describe('8 to 256 characters (Unicode code points).'),
  }),
);

export const accountSchema = named('Account', z.object({ id: z.int(), email: emailAddress }));
