/**
 * What to do with one cacheable request, given what the lookup found and the
 * time: a pure function of (request, lookup, options, now), so every branch
 * is a unit spec (spec/policy/plan.spec.ts). The interceptor carries it out
 * (interceptor/respond.ts). Waiting for an identical request already under
 * way is decided there, not here: it depends on what other requests are
 * doing at that moment, not on this one and its entry.
 */
import type { DecisionOutcome } from '../diagnostics.js';
import type { ResolvedOptions } from '../options.js';
import type { StoredResponse } from '../records/model.js';
import type { Lookup } from '../records/store.js';
import { evaluateConditional } from './conditional.js';
import { pairValue } from './headers.js';
import { parseHttpDate } from './http-date.js';
import { resolveRange } from './range.js';
import type { CacheRequest } from './request.js';
import { mayServeOnError, type Reuse, reuseDecision } from './reuse.js';

export type ServeReuse = Extract<Reuse, { action: 'serve' }>;

/** Why a request goes to the origin, as `Cache-Status`'s `fwd` says it. */
type Fwd = 'uri-miss' | 'vary-miss' | 'request' | 'stale';

/**
 * Each plan carries what is published and counted for the request
 * (`cache.observe`, `cachette:decision`, `stats()`): its `outcome` and
 * `reason`, as fields of its own, so a hit allocates one object for its plan.
 */
export type RequestPlan =
  /** Answer from the stored response: whole, as a 304 to the client's own condition, or a byte range of it. */
  | {
      step: 'serve';
      outcome: DecisionOutcome;
      reason: string;
      entry: StoredResponse;
      reuse: ServeReuse;
      form: 'full' | 'not-modified' | 'range';
      /** For `range`: the bytes [first, last], or undefined when none of the range exists (a 416). */
      bytes?: [number, number] | undefined;
      /** Revalidate it in the background (stale-while-revalidate). */
      refresh: boolean;
    }
  /** Ask the origin about the stored response (with its validators when it has them). */
  | {
      step: 'revalidate';
      outcome: DecisionOutcome;
      reason: string;
      entry: StoredResponse;
      fwd: 'stale' | 'request';
      /** It has a validator: the request can be conditional. */
      conditional: boolean;
      /** Within stale-if-error: an origin failure is answered with it. */
      fallbackOnError: boolean;
    }
  /**
   * Send the request to the origin. `alone`: as it is, neither collapsed with
   * identical requests nor leading them (a client's own conditional, a range).
   * `withVariants`: the response joins the stored Vary index.
   */
  | { step: 'forward'; outcome: DecisionOutcome; reason: string; fwd: Fwd; alone: boolean; withVariants: boolean }
  /** Only the cache may answer, and it cannot: a 504 (with the decision made before, if any). */
  | { step: 'refuse'; outcome: DecisionOutcome | undefined; reason: string | undefined };

export function planRequest(request: CacheRequest, found: Lookup, options: ResolvedOptions, now: number): RequestPlan {
  if (request.conditional) return planConditional(request, found, options, now);
  if (request.range !== undefined) return planRange(request, found, options, now);

  if (!found.found) {
    if (onlyFromCache(request)) return { step: 'refuse', outcome: 'miss', reason: found.fwd };
    return { step: 'forward', outcome: 'miss', reason: found.fwd, fwd: found.fwd, alone: false, withVariants: true };
  }
  // Fetch's reload mode: an unconditional request, whose response replaces the stored one.
  if (request.control.mode === 'reload') {
    // A recording being updated keeps what it holds when the origin fails (recording.ts).
    if (options.recording?.mode === 'update') {
      return { step: 'revalidate', outcome: 'revalidate', reason: 'update', entry: found.entry, fwd: 'request', conditional: false, fallbackOnError: true };
    }
    return { step: 'forward', outcome: 'forward', reason: 'reload', fwd: 'request', alone: false, withVariants: true };
  }

  const entry = found.entry;
  const reuse = reuseFor(request, entry, options, now);
  if (reuse.action === 'serve') return { step: 'serve', outcome: 'hit', reason: reuse.reason, entry, reuse, form: 'full', refresh: reuse.refresh };
  // RFC 9111 §5.2.1.7: only-if-cached gets a stored response consistent with the request, or a 504.
  if (request.directives.onlyIfCached === true) return { step: 'refuse', outcome: 'revalidate', reason: reuse.reason };
  return {
    step: 'revalidate',
    outcome: 'revalidate',
    reason: reuse.reason,
    entry,
    fwd: reuse.reason === 'stale' || reuse.reason === 'no-cache' ? 'stale' : 'request',
    conditional: hasValidator(entry),
    fallbackOnError: mayServeOnError(entry, request.directives, options, now, request.control.staleIfError),
  };
}

/**
 * The client's own conditional request: answered from a fresh stored response
 * when the cache can evaluate it (RFC 9111 §4.3.2), otherwise forwarded
 * untouched — its 304 reaches the client as is, and a full response is stored.
 */
function planConditional(request: CacheRequest, found: Lookup, options: ResolvedOptions, now: number): RequestPlan {
  if (found.found && request.control.mode !== 'reload') {
    const reuse = reuseFor(request, found.entry, options, now);
    if (reuse.action === 'serve' && servesAsIs(reuse)) {
      const answer = evaluateConditional(request.headers, found.entry.headers, found.entry.responseTime);
      if (answer === 'full') return { step: 'serve', outcome: 'hit', reason: 'condition-false', entry: found.entry, reuse, form: 'full', refresh: false };
      if (answer === 'not-modified') {
        return { step: 'serve', outcome: 'hit', reason: 'not-modified', entry: found.entry, reuse, form: 'not-modified', refresh: false };
      }
    }
  }
  if (onlyFromCache(request)) return { step: 'refuse', outcome: undefined, reason: undefined };
  return { step: 'forward', outcome: 'forward', reason: 'conditional', fwd: 'request', alone: true, withVariants: false };
}

/**
 * A byte range (RFC 9110 §14): cut from a complete, fresh stored 200; otherwise
 * the request goes to the origin as it is (a 206 is never stored; a full 200
 * the origin may send instead is).
 */
function planRange(request: CacheRequest, found: Lookup, options: ResolvedOptions, now: number): RequestPlan {
  if (found.found && found.entry.status === 200 && request.control.mode !== 'reload') {
    const reuse = reuseFor(request, found.entry, options, now);
    if (reuse.action === 'serve' && servesAsIs(reuse)) {
      const bytes = resolveRange(request.range as NonNullable<CacheRequest['range']>, found.entry.body.byteLength);
      return { step: 'serve', outcome: 'hit', reason: 'range', entry: found.entry, reuse, form: 'range', bytes, refresh: false };
    }
  }
  if (onlyFromCache(request)) return { step: 'refuse', outcome: undefined, reason: undefined };
  return { step: 'forward', outcome: 'forward', reason: 'range', fwd: found.found ? 'stale' : found.fwd, alone: true, withVariants: true };
}

/**
 * Whether a stored response may answer: RFC 9111's rules, except under fetch's
 * force-cache and only-if-cached modes, which take any stored response however
 * stale, and never contact the origin for it.
 */
function reuseFor(request: CacheRequest, entry: StoredResponse, options: ResolvedOptions, now: number): Reuse {
  const reuse = reuseDecision(entry, request.directives, options, now);
  const mode = request.control.mode;
  if (mode !== 'force-cache' && mode !== 'only-if-cached') return reuse;
  if (reuse.action === 'serve' && !reuse.refresh) return reuse;
  return { action: 'serve', reason: reuse.action === 'serve' ? reuse.reason : mode, refresh: false, ageMs: reuse.ageMs, ttl: reuse.ttl };
}

/** A stored response served without a background refresh, or fresh with one coming ahead of its expiry (which a conditional or a range does not start). */
function servesAsIs(reuse: ServeReuse): boolean {
  return !reuse.refresh || reuse.reason === 'refresh-ahead';
}

/** The request may only be answered from the cache: a 504 when it cannot be. */
function onlyFromCache(request: CacheRequest): boolean {
  return request.directives.onlyIfCached === true || request.control.mode === 'only-if-cached';
}

/** Whether a revalidation of the entry can be conditional: it has an ETag, a Last-Modified or a Date. */
export function hasValidator(entry: StoredResponse): boolean {
  return pairValue(entry.headers, 'etag') !== undefined || modifiedSince(entry) !== undefined;
}

/**
 * The If-Modified-Since of a revalidation: the stored Last-Modified, or else
 * the stored Date, as RFC 9110 §13.1.3 lets a cache do for a response
 * without Last-Modified. Both are the origin's clock, as the origin reads the
 * field; never this process's clock, which may run ahead of the origin's and
 * have it answer 304 for a change it made after the response was sent.
 */
export function modifiedSince(entry: StoredResponse): string | undefined {
  const lastModified = pairValue(entry.headers, 'last-modified');
  if (lastModified !== undefined) return lastModified;
  const date = parseHttpDate(pairValue(entry.headers, 'date'));
  return date === undefined ? undefined : new Date(date).toUTCString();
}
