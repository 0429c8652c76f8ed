import { z } from 'zod';

/**
 * The messages the services exchange over RabbitMQ. The original project's
 * fields (`video_fid`, `mp3_fid`, `username`) keep their names and meaning so a
 * message stays recognisable; the rest was added for idempotency, tracing and
 * per-job options.
 *
 * Objects are parsed with zod's default (strip) mode: unknown fields from a newer
 * producer are tolerated and dropped, while every known field is type-checked.
 */

export const VIDEO_QUEUE = 'video';
export const MP3_QUEUE = 'mp3';
/** The converter's failure events: a job that could not be converted, for the user's email. */
export const CONVERSION_FAILED_QUEUE = 'conversion-failed';

/** Emails: an SMTP server away for up to about 40 minutes delays them but loses none. */
const EMAIL_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000] as const;

/**
 * The work queues with their retry delays (a `QueueTopology` of @mp3converter/amqp): the
 * one place they are named. Every service passes these same objects to `connectAmqp` and
 * `consume`, so all declare identical queues.
 */
export const QUEUE_TOPOLOGY = {
  video: { queue: VIDEO_QUEUE, retryDelaysMs: [5_000, 30_000, 120_000] },
  mp3: { queue: MP3_QUEUE, retryDelaysMs: EMAIL_RETRY_DELAYS_MS },
  conversionFailed: { queue: CONVERSION_FAILED_QUEUE, retryDelaysMs: EMAIL_RETRY_DELAYS_MS },
} as const;

export const SCHEMA_VERSION = 1;

/** MongoDB ObjectId as produced by `ObjectId#toHexString()`: 24 lower-case hex digits. */
export const objectIdSchema = z
  .string()
  .regex(/^[0-9a-f]{24}$/, 'must be a 24-character lower-case hex ObjectId');

// Control characters would end up in Content-Disposition headers and emails.
const CONTROL_CHARACTERS = /\p{Cc}/u;

/** A file name as the user knows it; not a path, never trusted as one. */
export const fileNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !CONTROL_CHARACTERS.test(name), 'must not contain control characters');

export const MP3_BITRATES_KBPS = [64, 96, 128, 160, 192, 256, 320] as const;
export type Mp3BitrateKbps = (typeof MP3_BITRATES_KBPS)[number];
export const DEFAULT_BITRATE_KBPS: Mp3BitrateKbps = 192;

/** LAME's VBR quality scale (ffmpeg `-q:a`): 0 is the best and largest, 9 the smallest. */
export const MIN_VBR_QUALITY = 0;
export const MAX_VBR_QUALITY = 9;

/**
 * How to encode the MP3: a constant bitrate, or LAME's variable bitrate at a quality. When
 * neither is given the default is CBR at DEFAULT_BITRATE_KBPS; giving both is an error.
 */
export type ConversionOptions =
  | { bitrate_kbps: Mp3BitrateKbps; vbr_quality?: never }
  | { vbr_quality: number; bitrate_kbps?: never };

export const conversionOptionsSchema = z
  .object({
    bitrate_kbps: z.literal(MP3_BITRATES_KBPS).optional(),
    vbr_quality: z.int().min(MIN_VBR_QUALITY).max(MAX_VBR_QUALITY).optional(),
  })
  .refine((o) => o.bitrate_kbps === undefined || o.vbr_quality === undefined, {
    message: 'give bitrate_kbps or vbr_quality, not both',
  })
  .transform((o): ConversionOptions =>
    o.vbr_quality === undefined
      ? { bitrate_kbps: o.bitrate_kbps ?? DEFAULT_BITRATE_KBPS }
      : { vbr_quality: o.vbr_quality },
  );

const jobFields = {
  schema_version: z.literal(SCHEMA_VERSION),
  job_id: z.uuid(),
  /** The user id (JWT `sub`): who owns the job and may download its result. */
  owner_id: z.string().min(1).max(255),
  /** The user's email, named `username` as in the original message. */
  username: z.email().max(254),
  video_fid: objectIdSchema,
  filename: fileNameSchema,
  // prefault: a missing `options` is parsed as `{}`, so its own defaults apply.
  options: conversionOptionsSchema.prefault({}),
  created_at: z.iso.datetime({ offset: true }),
};

/** Published by the gateway to `video` once the upload is stored. */
export const videoMessageSchema = z.object({
  ...jobFields,
  mp3_fid: z.null(),
});

/** Published by the converter to `mp3` once the MP3 is stored. */
export const mp3MessageSchema = z.object({
  ...jobFields,
  mp3_fid: objectIdSchema,
  mp3_filename: fileNameSchema,
  duration_seconds: z.number().nonnegative(),
  size_bytes: z.number().int().nonnegative().optional(),
});

/** Published by the converter to `conversion-failed` when a job ends `failed`. */
export const conversionFailedMessageSchema = z.object({
  ...jobFields,
  mp3_fid: z.null(),
  error: z.object({
    /** Stable, e.g. NO_AUDIO_TRACK. */
    code: z.string().min(1).max(100),
    /** For the user, in plain words: "the file has no audio track". */
    message: z.string().min(1).max(1_000),
  }),
  failed_at: z.iso.datetime({ offset: true }),
});

/** A parsed `video` message (defaults applied). */
export type VideoMessage = z.output<typeof videoMessageSchema>;
/** What a producer may send on `video` (`options` may be left out). */
export type VideoMessageInput = z.input<typeof videoMessageSchema>;
export type Mp3Message = z.output<typeof mp3MessageSchema>;
export type Mp3MessageInput = z.input<typeof mp3MessageSchema>;
export type ConversionFailedMessage = z.output<typeof conversionFailedMessageSchema>;

export interface ConversionResult {
  mp3_fid: string;
  mp3_filename: string;
  duration_seconds: number;
  size_bytes?: number;
}

/** The `mp3` message for a converted `video` message: same job, result fields added. */
export function toMp3Message(video: VideoMessage, result: ConversionResult): Mp3Message {
  return mp3MessageSchema.parse({ ...video, ...result });
}

/** The `conversion-failed` event for a `video` message whose job failed with `error`. */
export function toConversionFailedMessage(
  video: VideoMessage,
  error: { code: string; message: string },
  failedAt: Date,
): ConversionFailedMessage {
  return conversionFailedMessageSchema.parse({
    ...video,
    mp3_fid: null,
    error,
    failed_at: failedAt.toISOString(),
  });
}
