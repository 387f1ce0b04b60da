/**
 * A client's own conditional request, answered from a fresh stored response
 * (RFC 9111 §4.3.2, RFC 9110 §13.2.2): If-None-Match first, with the weak
 * comparison; else If-Modified-Since against Last-Modified (or, without one,
 * the time the response was received).
 */

import { weaklyEqual } from './etag.js';
import type { RequestHeaders } from './headers.js';
import { pairValue } from './headers.js';
import { parseHttpDate } from './http-date.js';

export type ConditionalOutcome = 'not-modified' | 'full' | 'forward';

/** Conditions only the origin can evaluate (they guard changes, or ranges). */
const ORIGIN_ONLY = ['if-match', 'if-unmodified-since', 'if-range'];

export function evaluateConditional(headers: Readonly<RequestHeaders>, stored: readonly string[], responseTime: number): ConditionalOutcome {
  if (ORIGIN_ONLY.some((name) => headers[name] !== undefined)) return 'forward';
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const etag = pairValue(stored, 'etag');
    if (ifNoneMatch.trim() === '*') return 'not-modified';
    if (etag === undefined) return 'full';
    return entityTags(ifNoneMatch).some((tag) => weaklyEqual(tag, etag)) ? 'not-modified' : 'full';
  }
  const since = parseHttpDate(headers['if-modified-since']);
  // RFC 9110 §13.1.3: an invalid date is ignored, and so is the condition.
  if (since === undefined) return 'full';
  const modified = parseHttpDate(pairValue(stored, 'last-modified')) ?? parseHttpDate(pairValue(stored, 'date')) ?? responseTime;
  return modified <= since ? 'not-modified' : 'full';
}

/** The header fields a 304 carries (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary']);

/** Splits an If-None-Match list, keeping quoted tags whole (they may contain commas). */
function entityTags(value: string): string[] {
  return value.match(/(?:W\/)?"[^"]*"|[^,\s]+/g) ?? [];
}
