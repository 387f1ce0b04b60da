/**
 * Updating a stored response's header fields from a 304 (RFC 9111 §3.2,
 * §4.3.4): the 304's fields replace the stored ones, except those never
 * stored and Content-Length, which describes the stored body.
 */

import { isWeak, weaklyEqual } from './etag.js';
import type { ResponseHeaders } from './headers.js';
import { HOP_BY_HOP, pairsToHeaders, pairValue } from './headers.js';

const NOT_UPDATED = new Set([
  ...HOP_BY_HOP,
  'content-length',
  // Our own member is added when the response is served, never stored.
  'cache-status',
]);

export function updateStoredHeaders(stored: readonly string[], notModified: ResponseHeaders): ResponseHeaders {
  // Age and Date describe the old response; the 304 brings the current ones (or none, and then
  // the time it arrived stands for its date).
  const headers = pairsToHeaders(stored, (name) => name === 'age' || name === 'date');
  for (const rawName in notModified) {
    const value = notModified[rawName];
    const name = rawName.toLowerCase();
    if (value === undefined || NOT_UPDATED.has(name)) continue;
    headers[name] = value;
  }
  return headers;
}

/**
 * RFC 9111 §4.3.4: whether a 304 (its ETag) identifies the stored response it answers.
 * A 304 with an ETag must carry the stored one (compared strongly when it is
 * strong, weakly when weak); otherwise it updates nothing. A 304 without an
 * ETag is taken to answer the request's own validators.
 */
export function identifiesStored(etag: string | undefined, stored: readonly string[]): boolean {
  if (etag === undefined) return true;
  const storedEtag = pairValue(stored, 'etag');
  if (storedEtag === undefined) return false;
  if (!isWeak(etag)) return !isWeak(storedEtag) && etag.trim() === storedEtag.trim();
  return weaklyEqual(etag, storedEtag);
}
