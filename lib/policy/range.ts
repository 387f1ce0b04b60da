/**
 * Byte ranges answered from a complete stored response (RFC 9110 §14): one
 * range per request (`bytes=0-99`, `bytes=100-`, `bytes=-100`); anything else
 * goes to the origin.
 */

export interface ByteRange {
  /** First byte; undefined for a suffix range (the last `suffix` bytes). */
  start: number | undefined;
  /** Last byte, inclusive; undefined when open-ended. */
  end: number | undefined;
  suffix: number | undefined;
}

/** A single byte range, or undefined for what the cache leaves to the origin (several ranges, other units). */
export function parseRange(value: string): ByteRange | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') return { start: undefined, end: undefined, suffix: Number(last) };
  const start = Number(first);
  const end = last === '' ? undefined : Number(last);
  if (end !== undefined && end < start) return undefined;
  return { start, end, suffix: undefined };
}

/** The inclusive [first, last] bytes of a body of `length` bytes, or undefined when unsatisfiable. */
export function resolveRange(range: ByteRange, length: number): [number, number] | undefined {
  if (range.suffix !== undefined) {
    if (range.suffix === 0 || length === 0) return undefined;
    return [Math.max(0, length - range.suffix), length - 1];
  }
  const start = range.start as number;
  if (start >= length) return undefined;
  return [start, Math.min(range.end ?? length - 1, length - 1)];
}
