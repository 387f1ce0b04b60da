/**
 * Whether a stored response may answer a request (RFC 9111 §4, §5.2.1;
 * RFC 5861), decided from numbers computed when it was stored.
 */

import type { ResolvedOptions } from '../options.js';
import { ResponseFlags, type StoredResponse } from '../records/model.js';
import type { CacheControl } from './cache-control.js';
import { currentAge } from './freshness.js';

export type Reuse =
  /** Serve the stored response; `refresh` asks for a background revalidation (stale-while-revalidate). */
  | {
      action: 'serve';
      reason: 'fresh' | 'refresh-ahead' | 'max-stale' | 'stale-while-revalidate' | 'force-cache' | 'only-if-cached';
      refresh: boolean;
      ageMs: number;
      ttl: number;
    }
  /** Go to the origin (conditionally when the entry has a validator). */
  | { action: 'revalidate'; reason: 'stale' | 'no-cache' | 'request-no-cache' | 'request-max-age' | 'min-fresh'; ageMs: number; ttl: number };

/** RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10: may this entry ever be served stale? */
function mayServeStale(entry: StoredResponse, shared: boolean): boolean {
  if ((entry.flags & ResponseFlags.mustRevalidate) !== 0) return false;
  // A shared cache treats proxy-revalidate, and s-maxage, as must-revalidate.
  if (shared && (entry.flags & (ResponseFlags.proxyRevalidate | ResponseFlags.sMaxAge)) !== 0) return false;
  return true;
}

export function reuseDecision(entry: StoredResponse, directives: CacheControl, options: ResolvedOptions, now: number): Reuse {
  const ageMs = currentAge(entry, now);
  const remaining = entry.lifetime - ageMs;
  const ttl = remaining / 1000;
  const fresh = remaining > 0;
  const immutable = (entry.flags & ResponseFlags.immutable) !== 0;

  // RFC 9111 §5.2.2.4: no-cache on the response: always revalidate.
  if ((entry.flags & ResponseFlags.noCache) !== 0) return { action: 'revalidate', reason: 'no-cache', ageMs, ttl };
  // RFC 9111 §5.2.1.4: no-cache (or Pragma: no-cache) on the request.
  if (directives.noCache !== undefined) return { action: 'revalidate', reason: 'request-no-cache', ageMs, ttl };
  // RFC 9111 §5.2.1.1, with RFC 8246: a fresh immutable response survives a max-age=0 "reload".
  // max-age=0 asks for a validated response whatever the age: one stored this very millisecond
  // (or under a clock that stands still) is age 0, and max-age=0 means "not without asking".
  if (directives.maxAge !== undefined && !(immutable && fresh)) {
    const maxAge = directives.maxAge === 'invalid' ? 0 : directives.maxAge;
    if (maxAge === 0 || ageMs > maxAge * 1000) return { action: 'revalidate', reason: 'request-max-age', ageMs, ttl };
  }
  // RFC 9111 §5.2.1.3: the response must stay fresh for at least min-fresh more seconds.
  if (directives.minFresh !== undefined && remaining < directives.minFresh * 1000) {
    return { action: 'revalidate', reason: 'min-fresh', ageMs, ttl };
  }
  if (fresh) {
    // In the last part of its lifetime (refreshAhead): served, and refreshed in the background before it expires.
    const ahead = options.refreshAhead;
    if (ahead > 0 && remaining <= entry.lifetime * ahead && Number.isFinite(entry.lifetime)) {
      return { action: 'serve', reason: 'refresh-ahead', refresh: true, ageMs, ttl };
    }
    return { action: 'serve', reason: 'fresh', refresh: false, ageMs, ttl };
  }

  if (mayServeStale(entry, options.shared)) {
    const staleness = -remaining;
    // RFC 9111 §5.2.1.2: the client accepts a stale response.
    if (directives.maxStale !== undefined && staleness <= directives.maxStale * 1000) {
      return { action: 'serve', reason: 'max-stale', refresh: false, ageMs, ttl };
    }
    // RFC 5861 §3: serve stale at once, refresh in the background.
    const window = staleWhileRevalidateWindow(entry, options);
    // No window is no window: a response stale by zero ms (a clock that stands still) is not served on one.
    if (window > 0 && staleness <= window) {
      return { action: 'serve', reason: 'stale-while-revalidate', refresh: true, ageMs, ttl };
    }
  }
  return { action: 'revalidate', reason: 'stale', ageMs, ttl };
}

function staleWhileRevalidateWindow(entry: StoredResponse, options: ResolvedOptions): number {
  const fromResponse = options.cacheControl && entry.staleWhileRevalidate >= 0 ? entry.staleWhileRevalidate * 1000 : 0;
  return Math.max(fromResponse, options.staleWhileRevalidate);
}

/**
 * RFC 5861 §4: may this stale entry answer in place of an origin error?
 * @param requested the request's own stale-if-error window (ms), in place of the cache's option.
 */
export function mayServeOnError(entry: StoredResponse, directives: CacheControl, options: ResolvedOptions, now: number, requested?: number): boolean {
  if (!mayServeStale(entry, options.shared)) return false;
  const staleness = currentAge(entry, now) - entry.lifetime;
  const fromResponse = options.cacheControl && entry.staleIfError >= 0 ? entry.staleIfError * 1000 : 0;
  const fromRequest = directives.staleIfError === undefined ? 0 : directives.staleIfError * 1000;
  const explicit = Math.max(fromResponse, fromRequest);
  // RFC 9111 §4.2.4: no-cache forbids reuse without validation; only an in-protocol stale-if-error
  // (the response's or the request's, RFC 5861) lifts that, not the cache's own staleIfError option.
  const window = (entry.flags & ResponseFlags.noCache) !== 0 ? explicit : Math.max(explicit, requested ?? options.staleIfError);
  return window > 0 && staleness <= window;
}
