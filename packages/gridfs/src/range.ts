/** Bytes `start` (inclusive) to `end` (exclusive), as the driver's download stream takes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * - `range`: answer 206 with that range.
 * - `unsatisfiable`: answer 416 with `formatContentRange(undefined, size)`.
 * - `invalid`: malformed, another unit, or several ranges (not served here); RFC 9110
 *   lets the server ignore the header, so answer 200 with the whole file.
 */
export type RangeHeaderResult =
  { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' } | { kind: 'invalid' };

const SINGLE_BYTE_RANGE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i;

/**
 * Parses one HTTP Range header value (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against a file
 * of `size` bytes, clamping the end to the file. Digits too long for a safe integer are
 * past any real file, so their loss of precision cannot pick a wrong byte.
 */
export function parseRangeHeader(header: string, size: number): RangeHeaderResult {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`size must be a non-negative integer, got ${size}`);
  }
  const match = SINGLE_BYTE_RANGE.exec(header.trim());
  const [, first = '', last = ''] = match ?? [];
  if (match === null || (first === '' && last === '')) return { kind: 'invalid' };

  if (first === '') {
    // bytes=-n: the last n bytes. An empty file has no last bytes to send.
    const suffixLength = Number(last);
    if (suffixLength === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - suffixLength), end: size } };
  }

  const start = Number(first);
  const lastByte = last === '' ? Infinity : Number(last);
  if (lastByte < start) return { kind: 'invalid' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end: Math.min(lastByte + 1, size) } };
}

/** The Content-Range value: `bytes 0-99/1000` for a 206, or for a 416 (no range) the unsatisfied form. */
export function formatContentRange(range: ByteRange | undefined, size: number): string {
  return range === undefined ? `bytes */${size}` : `bytes ${range.start}-${range.end - 1}/${size}`;
}
