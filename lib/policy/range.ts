/**
 * Byte ranges answered from a complete stored response (RFC 9110 §14): one
 * range per request (`bytes=0-99`, `bytes=100-`, `bytes=-100`); anything else
 * goes to the origin.
 */

import { lowerAscii, trimOws } from '../ascii.js';

/** Nothing, or decimal digits: a bound of a byte range. */
const DIGITS = /^[0-9]*$/;

export interface ByteRange {
  /** First byte; undefined for a suffix range (the last `suffix` bytes). */
  start: number | undefined;
  /** Last byte, inclusive; undefined when open-ended. */
  end: number | undefined;
  suffix: number | undefined;
}

/**
 * A single byte range, or undefined for what the cache leaves to the origin
 * (several ranges, other units). Read by hand, in one pass: a request's
 * field is the client's to make, and a pattern with several optional runs
 * of blanks backtracks for seconds on a few kilobytes of them.
 */
export function parseRange(value: string): ByteRange | undefined {
  const equals = value.indexOf('=');
  if (equals === -1 || lowerAscii(trimOws(value.slice(0, equals))) !== 'bytes') return undefined;
  const spec = value.slice(equals + 1);
  const dash = spec.indexOf('-');
  if (dash === -1) return undefined;
  const first = trimOws(spec.slice(0, dash));
  const last = trimOws(spec.slice(dash + 1));
  if (!DIGITS.test(first) || !DIGITS.test(last)) return undefined;
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
