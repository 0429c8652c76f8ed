import { Readable } from 'node:stream';
import type { Request } from 'express';
import busboy, { type Busboy, type FileInfo } from 'busboy';
import { AppError, BadRequestError } from '@mp3converter/errors';
import {
  deleteFile,
  uploadFromStream,
  type FileBucket,
  type UploadedFile,
} from '@mp3converter/gridfs';
import type { Document } from 'mongodb';

/** The file as stored, with what was learnt while it streamed in. */
export interface ReceivedUpload {
  file: UploadedFile;
  /** The client's file name, made safe (see safeFileName). */
  filename: string;
  contentType: string;
  size: number;
  /** SHA-256 of the content, lower-case hex. */
  sha256: string;
  /** The form's text fields, by name. */
  fields: ReadonlyMap<string, string>;
}

export interface ReceiveOptions {
  bucket: FileBucket;
  maxBytes: number;
  /** The client is cut off when it sends nothing for this long. */
  idleTimeoutMs: number;
  /** Kept in the files document's metadata, with the name, type, size and hash. */
  metadata: Document;
  /** Told of every piece of the file as it arrives (metrics). */
  onBytes?: (count: number) => void;
}

/** The client went away (or the connection broke) before the whole request arrived. */
export class UploadAbortedError extends AppError {
  override name = 'UploadAbortedError';
  constructor(options?: { cause?: unknown }) {
    super(
      'UPLOAD_ABORTED',
      'the client closed the connection during the upload',
      400,
      false,
      options,
    );
  }
}

/** The client stopped sending in the middle of the request. */
export class UploadStalledError extends AppError {
  override name = 'UploadStalledError';
  constructor(idleTimeoutMs: number) {
    super(
      'UPLOAD_STALLED',
      `the upload sent nothing for ${Math.round(idleTimeoutMs / 1000)} s and was cut off`,
      408,
      false,
    );
  }
}

const ONE_FILE = 'send exactly one file, as multipart/form-data (curl -F file=@video.mp4)';
const MAX_FIELDS = 10;
const MAX_FIELD_BYTES = 1024;
const MAX_NAME_LENGTH = 255;
const FALLBACK_NAME = 'video';
const MEDIA_TYPE = /^[\w.+-]{1,127}\/[\w.+-]{1,127}$/;

/**
 * The file name a client sent, safe to store, show and send back in headers: path parts
 * (`../`, `C:\`) dropped, control and invisible formatting characters removed (no header
 * injection, no right-to-left tricks), at most 255 characters, never empty.
 */
export function safeFileName(raw: string | undefined): string {
  const cleaned = (raw ?? '').normalize('NFC').replace(/[\p{Cc}\p{Cf}]/gu, '');
  const base = cleaned.split(/[/\\]/).at(-1)?.trim() ?? '';
  if (base === '' || base === '.' || base === '..') return FALLBACK_NAME;
  if (base.length <= MAX_NAME_LENGTH) return base;
  // Too long: keep a short extension, shorten the rest without cutting a character in two.
  const dot = base.lastIndexOf('.');
  const extension = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : '';
  const stem = base.slice(0, MAX_NAME_LENGTH - extension.length).replace(/[\uD800-\uDBFF]$/, '');
  return stem + extension;
}

function safeContentType(mimeType: string): string {
  const type = mimeType.toLowerCase();
  return MEDIA_TYPE.test(type) ? type : 'application/octet-stream';
}

/**
 * Streams the one file of a multipart request into GridFS while the request arrives:
 * memory stays flat whatever the size, and nothing is written to disk. Resolves once the
 * whole request was read and the file is stored. Rejects, leaving nothing stored, when the
 * request is not multipart, holds no file or several, is larger than `maxBytes`
 * (FileTooLargeError, 413), stalls, or the client goes away.
 *
 * Busboy's own `limits.fileSize` is not used: it ends the file stream quietly and only
 * marks it truncated, which would store a cut file as complete. The size is enforced by
 * `uploadFromStream`, which fails and removes the partial file.
 */
export function receiveUpload(req: Request, options: ReceiveOptions): Promise<ReceivedUpload> {
  const contentType = req.headers['content-type'];
  if (contentType === undefined || !/^multipart\/form-data\s*;/i.test(contentType)) {
    return Promise.reject(new BadRequestError('NOT_MULTIPART', ONE_FILE));
  }
  let parser: Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      // curl and browsers send UTF-8 file names.
      defParamCharset: 'utf8',
      limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 2 },
    });
  } catch (error) {
    return Promise.reject(
      new BadRequestError('MALFORMED_MULTIPART', 'the multipart body has no boundary', {
        cause: error,
      }),
    );
  }
  return new Upload(req, parser, options).done;
}

/** One request being received: ends exactly once, with the stored file or with a cleaned-up failure. */
class Upload {
  readonly done: Promise<ReceivedUpload>;
  readonly #req: Request;
  readonly #parser: Busboy;
  readonly #options: ReceiveOptions;
  readonly #fields = new Map<string, string>();
  #files = 0;
  #stored: Promise<ReceivedUpload> | undefined;
  /** Resolved, or failed (a failure wins only while nothing is settled). */
  #settled = false;
  #resolve!: (upload: ReceivedUpload) => void;
  #reject!: (error: unknown) => void;

  constructor(req: Request, parser: Busboy, options: ReceiveOptions) {
    this.#req = req;
    this.#parser = parser;
    this.#options = options;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });

    parser.on('file', (_name, stream, info) => {
      this.#onFile(stream, info);
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        this.#fail(new BadRequestError('FIELD_TOO_LONG', `the form field ${name} is too long`));
      } else {
        this.#fields.set(name, value);
      }
    });
    const tooManyParts = (): void => {
      this.#fail(new BadRequestError('TOO_MANY_PARTS', `the form has too many parts; ${ONE_FILE}`));
    };
    parser.on('partsLimit', tooManyParts);
    parser.on('fieldsLimit', tooManyParts);
    parser.on('error', (error: unknown) => {
      this.#fail(
        new BadRequestError('MALFORMED_MULTIPART', 'the multipart body is malformed', {
          cause: error,
        }),
      );
    });
    parser.on('close', () => {
      this.#finish();
    });

    req.on('error', (error) => {
      this.#fail(new UploadAbortedError({ cause: error }));
    });
    req.on('close', () => {
      if (!req.complete) this.#fail(new UploadAbortedError());
    });
    req.setTimeout(options.idleTimeoutMs, () => {
      this.#fail(new UploadStalledError(options.idleTimeoutMs));
    });
    req.pipe(parser);
  }

  #onFile(stream: Readable, info: FileInfo): void {
    // #fail destroys the parser, which destroys the part being read with an error. A part
    // that is only resumed (a second file, or one after a failure) has no other listener,
    // and an unheard 'error' would be an uncaught exception that ends the process.
    stream.on('error', () => undefined);
    this.#files += 1;
    if (this.#files > 1) {
      stream.resume();
      this.#fail(new BadRequestError('TOO_MANY_FILES', ONE_FILE));
      return;
    }
    if (this.#settled) {
      stream.resume();
      return;
    }
    const filename = safeFileName(info.filename);
    const contentType = safeContentType(info.mimeType);
    const { bucket, maxBytes, metadata, onBytes } = this.#options;
    // Counted on the way through; an error of the part's stream (the client went away) ends
    // the loop with that error, which fails the upload.
    const source = Readable.from(
      (async function* () {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          onBytes?.(chunk.length);
          yield chunk;
        }
      })(),
    );
    this.#stored = uploadFromStream(bucket, source, {
      filename,
      contentType,
      maxBytes,
      sha256: true,
      metadata: { ...metadata, original_name: filename },
    }).then((file) => {
      if (file.sha256 === undefined) throw new Error('uploadFromStream gave no sha256');
      return {
        file,
        filename,
        contentType,
        size: file.length,
        sha256: file.sha256,
        fields: this.#fields,
      };
    });
    this.#stored.catch((error: unknown) => {
      this.#fail(error);
    });
  }

  #finish(): void {
    if (this.#settled) return;
    if (this.#stored === undefined) {
      this.#fail(new BadRequestError('NO_FILE', ONE_FILE));
      return;
    }
    // A failed store reaches #fail through its own handler.
    this.#stored.then(
      (stored) => {
        if (this.#settled) return;
        this.#settle();
        this.#resolve(stored);
      },
      () => undefined,
    );
  }

  /** The first failure wins: stop reading, remove whatever was stored, reject. */
  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    this.#req.unpipe(this.#parser);
    // Ends the file part's stream with an error, which makes uploadFromStream remove what it wrote.
    this.#parser.destroy();
    const stored = this.#stored;
    void (async () => {
      if (stored !== undefined) {
        const upload = await stored.catch(() => undefined);
        if (upload !== undefined) {
          await deleteFile(this.#options.bucket, upload.file.id).catch(() => undefined);
        }
      }
      this.#reject(error);
    })();
  }

  #settle(): void {
    this.#settled = true;
    this.#req.setTimeout(0);
  }
}
