import parseRange from 'range-parser';

/** Bytes `start` (inclusive) to `end` (exclusive), as the GridFS download stream takes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * - `range`: answer 206 with that range.
 * - `unsatisfiable`: answer 416 with `formatContentRange(undefined, size)`.
 * - `ignored`: malformed, another unit, or several ranges (not served here); RFC 9110 lets
 *   the server ignore the header, so answer 200 with the whole file.
 */
export type RequestedRange =
  { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' } | { kind: 'ignored' };

const BYTES_UNIT = /^[ \t]*bytes[ \t]*=/i;
const SUFFIX = /=[ \t]*-[ \t]*(\d+)[ \t]*$/;

/**
 * The one byte range a Range header asks of a file of `size` bytes, parsed by `range-parser`
 * (what Express's `req.range()` and `send` use).
 */
export function requestedRange(header: string, size: number): RequestedRange {
  // Several ranges are not served here, even when only one of them is satisfiable.
  if (!BYTES_UNIT.test(header) || header.includes(',')) return { kind: 'ignored' };
  const parsed = parseRange(size, header);
  if (parsed === -2) return { kind: 'ignored' };
  if (parsed === -1) {
    // range-parser drops a suffix longer than the file; RFC 9110 (14.1.2) selects the whole file.
    const suffix = Number(SUFFIX.exec(header)?.[1] ?? 0);
    if (suffix > 0 && size > 0) return { kind: 'range', range: { start: 0, end: size } };
    // range-parser also drops a range whose last byte comes before its first, which RFC 9110
    // calls invalid rather than unsatisfiable: a header that no file, however large, could
    // satisfy is ignored.
    return parseRange(Infinity, header) === -1 ? { kind: 'ignored' } : { kind: 'unsatisfiable' };
  }
  const [only] = parsed;
  if (parsed.length !== 1 || only === undefined) return { kind: 'ignored' };
  return { kind: 'range', range: { start: only.start, end: only.end + 1 } };
}

/** The Content-Range value: `bytes 0-99/1000` for a 206, or for a 416 (no range) the unsatisfied form. */
export function formatContentRange(range: ByteRange | undefined, size: number): string {
  return range === undefined ? `bytes */${size}` : `bytes ${range.start}-${range.end - 1}/${size}`;
}
