/**
 * Freshness lifetime and age (RFC 9111 §4.2), computed once when a response
 * is stored so that a hit only compares two numbers.
 */
import type { CacheControl } from './cache-control.js';
import { deltaSeconds } from './cache-control.js';
import { headerValue, type ResponseHeaders } from './headers.js';
import { parseHttpDate } from './http-date.js';

/** RFC 9110 §15.1: status codes whose responses may be given a heuristic lifetime. */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** RFC 9111 §4.2.2: "a typical setting of this fraction might be 10%". */
const HEURISTIC_FRACTION = 0.1;
const HEURISTIC_CAP_MS = 365 * 24 * 3600 * 1000;

export type FreshnessSource = 'shared-max-age' | 'max-age' | 'expires' | 'configured' | 'heuristic' | 'none';

export interface Freshness {
  /** Milliseconds; Infinity for "never expires". */
  lifetime: number;
  source: FreshnessSource;
}

export interface FreshnessInput {
  status: number;
  headers: ResponseHeaders;
  directives: CacheControl;
  shared: boolean;
  /** Honour the response's caching headers; when false only `configured` counts. */
  cacheControl: boolean;
  /** Lifetime from expireAfter / urlsExpireAfter, in ms, if any applies. */
  configured: number | undefined;
  /** A targeted field (RFC 9213) ruled the response: Expires is ignored. */
  ignoreExpires?: boolean;
  responseTime: number;
}

export function freshnessLifetime(input: FreshnessInput): Freshness {
  const { directives, headers } = input;
  if (!input.cacheControl) return { lifetime: input.configured ?? 0, source: input.configured === undefined ? 'none' : 'configured' };

  // RFC 9111 §4.2.1, in order: s-maxage (shared caches), max-age, Expires.
  // A present but invalid value means the response is stale.
  if (input.shared && directives.sMaxAge !== undefined) {
    return { lifetime: directives.sMaxAge === 'invalid' ? 0 : directives.sMaxAge * 1000, source: 'shared-max-age' };
  }
  if (directives.maxAge !== undefined) {
    return { lifetime: directives.maxAge === 'invalid' ? 0 : directives.maxAge * 1000, source: 'max-age' };
  }
  const expiresField = input.ignoreExpires === true ? undefined : headers['expires'];
  if (expiresField !== undefined) {
    // RFC 9111 §5.3: an invalid date, "0" included, means already expired.
    const expires = Array.isArray(expiresField) && expiresField.length > 1 ? undefined : parseHttpDate(headerValue(headers, 'expires'));
    if (expires === undefined) return { lifetime: 0, source: 'expires' };
    const date = parseHttpDate(headerValue(headers, 'date')) ?? input.responseTime;
    return { lifetime: Math.max(0, expires - date), source: 'expires' };
  }

  if (input.configured !== undefined) return { lifetime: input.configured, source: 'configured' };

  // RFC 9111 §4.2.2: heuristics only without explicit expiration, and only for
  // heuristically cacheable statuses or responses marked public.
  if (HEURISTICALLY_CACHEABLE.has(input.status) || directives.public === true) {
    const lastModified = parseHttpDate(headerValue(headers, 'last-modified'));
    if (lastModified !== undefined) {
      const date = parseHttpDate(headerValue(headers, 'date')) ?? input.responseTime;
      if (date > lastModified) {
        return { lifetime: Math.min(HEURISTIC_CAP_MS, Math.floor((date - lastModified) * HEURISTIC_FRACTION)), source: 'heuristic' };
      }
    }
  }
  return { lifetime: 0, source: 'none' };
}

/** RFC 9111 §4.2.3: the corrected initial age, in ms. */
export function correctedInitialAge(headers: ResponseHeaders, requestTime: number, responseTime: number): number {
  // A list ("7200, 0", from folded lines) counts by its first member; an invalid value is ignored (§5.1).
  const ageValue = (deltaSeconds(headerValue(headers, 'age')?.split(',')[0]?.trim()) ?? 0) * 1000;
  const dateValue = parseHttpDate(headerValue(headers, 'date')) ?? responseTime;
  const apparentAge = Math.max(0, responseTime - dateValue);
  const responseDelay = Math.max(0, responseTime - requestTime);
  const correctedAgeValue = ageValue + responseDelay;
  return Math.max(apparentAge, correctedAgeValue);
}

/** The current age of a stored response, in ms (RFC 9111 §4.2.3). */
export function currentAge(stored: { initialAge: number; responseTime: number }, now: number): number {
  return stored.initialAge + Math.max(0, now - stored.responseTime);
}

/** When a stored response stops being fresh (epoch ms): its age then equals its lifetime. Infinity for never. */
export function freshUntil(stored: { initialAge: number; responseTime: number; lifetime: number }): number {
  return stored.responseTime + stored.lifetime - stored.initialAge;
}
