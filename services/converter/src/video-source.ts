import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readStoredFile, type ByteRange, type FileBucket } from '@mp3converter/gridfs';
import { formatContentRange, requestedRange } from '@mp3converter/http-range';
import type { GridFSFile } from 'mongodb';

/** One stored video, served to ffmpeg over loopback HTTP while it converts. */
export interface VideoSource {
  /** `http://127.0.0.1:<port>/<random token>`: only this process and ffmpeg know it. */
  readonly url: URL;
  /**
   * The first error reading the stored file (the server gone or stalled, a damaged file),
   * or undefined. The response it broke was cut short, so whatever ffmpeg made of its
   * input says nothing about the file.
   */
  readonly error: unknown;
  /**
   * Stops serving: closes the listener and every connection, and resolves once every read
   * under way has ended, so that `error` is final (a read of the server's is bounded by the
   * MongoDB client's socket and server-selection timeouts).
   */
  close(): Promise<void>;
}

/**
 * Serves `file` from GridFS at a URL for ffmpeg, with byte ranges, so that ffmpeg reads the
 * video while it converts instead of waiting for a copy to a temp file, and an MP4 whose
 * index (moov) comes after its media still converts: ffmpeg fetches the end of the file,
 * then the media from its start. No temp disk is needed for the input.
 *
 * Bound to 127.0.0.1 on a port the kernel picks; the path is 128 random bits, so another
 * local process cannot guess it (one that may read ffmpeg's command line can: in a pod there
 * is none). GET and HEAD of that path only.
 */
export async function serveVideo(
  bucket: FileBucket,
  file: Pick<GridFSFile, '_id' | 'length' | 'chunkSize'>,
): Promise<VideoSource> {
  const path = `/${randomBytes(16).toString('hex')}`;
  let error: unknown;
  const responding = new Set<Promise<void>>();
  const server = createServer((request, response) => {
    const responded = respond(request, response)
      // A failed read was kept by `recorded`; the client going away is no failure of ours.
      .catch(() => {
        response.destroy();
      })
      .finally(() => responding.delete(responded));
    responding.add(responded);
  });

  async function respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.url !== path) {
      response.writeHead(404).end();
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const header = request.headers.range;
    const parsed = header === undefined ? undefined : requestedRange(header, file.length);
    if (parsed?.kind === 'unsatisfiable') {
      response.writeHead(416, { 'Content-Range': formatContentRange(undefined, file.length) });
      response.end();
      return;
    }
    const range: ByteRange | undefined = parsed?.kind === 'range' ? parsed.range : undefined;
    const length = range === undefined ? file.length : range.end - range.start;
    response.writeHead(range === undefined ? 200 : 206, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': length,
      'Accept-Ranges': 'bytes',
      ...(range === undefined ? {} : { 'Content-Range': formatContentRange(range, file.length) }),
    });
    if (request.method === 'HEAD' || length === 0) {
      response.end();
      return;
    }
    await pipeline(Readable.from(recorded(range)), response);
  }

  /**
   * The file's bytes; an error reading them is kept as the source's error. Only reading:
   * the response closing early (ffmpeg seeks, or exits) also ends this generator, by an
   * error thrown in at its `yield`.
   */
  async function* recorded(range: ByteRange | undefined): AsyncGenerator<Uint8Array> {
    const reader = readStoredFile(bucket, file, { range });
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await reader.next();
        } catch (failure) {
          error ??= failure;
          throw failure;
        }
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await reader.return();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}${path}`),
    get error() {
      return error;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeAllConnections();
      await closed;
      await Promise.all(responding);
    },
  };
}
