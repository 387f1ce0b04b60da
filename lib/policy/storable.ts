/**
 * Whether a response may be stored (RFC 9111 §3) and, if so, for how long.
 * Every refusal carries a named reason: it goes to the diagnostics channel
 * and to Cache-Status `detail`.
 */

import { configuredLifetime, type ResolvedOptions, type UrlExpiration } from '../options.js';
import { ResponseFlags } from '../records/model.js';
import type { CacheControl } from './cache-control.js';
import { correctedInitialAge, type FreshnessSource, freshnessLifetime, freshUntil, HEURISTICALLY_CACHEABLE } from './freshness.js';
import type { ResponseView } from './response.js';
import { carriesSecret, type Secret } from './secrets.js';

type NotStoredReason =
  | 'status'
  | 'partial-content'
  | 'no-store'
  | 'request-no-store'
  | 'private'
  | 'authorization'
  | 'set-cookie'
  | 'vary-star'
  | 'url-rule'
  | 'expire-after'
  | 'event-stream'
  | 'filter'
  | 'not-reusable'
  | 'must-understand'
  | 'echoes-redacted';

export interface StorePlan {
  store: true;
  lifetime: number;
  freshness: FreshnessSource;
  initialAge: number;
  flags: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  hiddenFields: string[] | null;
  /** Lower-case request header names from Vary, sorted; empty when the response does not vary. */
  vary: readonly string[];
  /** Response fields not to store (private="x" in a shared cache, Set-Cookie). */
  omit: ReadonlySet<string>;
  /** When the storage may drop the entry (epoch ms), undefined for never. */
  expiresAt: number | undefined;
}

export type StoreDecision = StorePlan | { store: false; reason: NotStoredReason };

export interface StoreInput {
  options: ResolvedOptions;
  method: string;
  /** Stored (redacted) request URL, for urlsExpireAfter and filter. */
  url: string;
  requestDirectives: CacheControl;
  /** The request carried Authorization. */
  authorized: boolean;
  /** The entry will be keyed by the request's credentials: no one with other credentials (or none) can get it. */
  perCredential?: boolean | undefined;
  response: ResponseView;
  requestTime: number;
  responseTime: number;
  /** The request's own lifetime (its `expireAfter`), in place of the configured ones. */
  expireAfter?: UrlExpiration | undefined;
  /** The request's own stale-if-error window in ms, in place of the cache's option. */
  staleIfError?: number | undefined;
  /** What the request carries under an ignored parameter's name (see secrets.ts). */
  secrets?: readonly Secret[] | undefined;
}

// A shared cache never stores a cookie (it would hand it to other users); a private one keeps it.
const OMIT_COOKIE: ReadonlySet<string> = new Set(['set-cookie']);
const OMIT_NOTHING: ReadonlySet<string> = new Set();

/** RFC 9110 statuses whose semantics this cache implements (for must-understand, RFC 9111 §5.2.2.3). */
const UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);
/** How long a stale entry with a validator is kept around for revalidation, at least. */
const REVALIDATION_RETENTION_MS = 24 * 3600 * 1000;
/** How long stale entries are kept when a stale window is unbounded (`true`). */
const UNBOUNDED_STALE_RETENTION_MS = 30 * 24 * 3600 * 1000;

export function storeDecision(input: StoreInput): StoreDecision {
  const { options, response } = input;
  const { headers, status, directives, targeted } = response;
  const shared = options.shared;
  const honour = options.cacheControl;

  if (input.requestDirectives.noStore === true) return { store: false, reason: 'request-no-store' };
  if (options.recording !== undefined) return recordingDecision(input);

  // RFC 9111 §3: the status must be final and understood; 206 needs range support we do not have.
  if (status === 206) return { store: false, reason: 'partial-content' };
  if (status === 304 || status < 200) return { store: false, reason: 'status' };
  if (options.statuses !== undefined) {
    if (!options.statuses.has(status)) return { store: false, reason: 'status' };
  } else if (!honour && !HEURISTICALLY_CACHEABLE.has(status)) {
    // Without headers to go by, only statuses RFC 9110 §15.1 deems cacheable by default.
    return { store: false, reason: 'status' };
  }

  // no-store is honoured whatever `cacheControl` says (DESIGN: never store no-store responses),
  // unless must-understand is present and the status understood (RFC 9111 §5.2.2.3).
  if (directives.noStore === true) {
    if (directives.mustUnderstand !== true) return { store: false, reason: 'no-store' };
    if (!UNDERSTOOD.has(status)) return { store: false, reason: 'must-understand' };
  } else if (directives.mustUnderstand === true && !UNDERSTOOD.has(status)) {
    return { store: false, reason: 'must-understand' };
  }

  // An entry keyed by its request's credentials is that user's alone: for it, a shared cache is a private one.
  const forOneUser = input.perCredential === true;
  let omit: ReadonlySet<string> = shared ? OMIT_COOKIE : OMIT_NOTHING;
  // RFC 9111 §5.2.2.7: a shared cache does not store a private response; private="x" only drops x.
  if (shared && !forOneUser && directives.private !== undefined) {
    if (directives.private === true) return { store: false, reason: 'private' };
    omit = new Set([...omit, ...directives.private]);
  }

  // RFC 9111 §3.5: a shared cache stores a response to an authorized request only when told it may.
  if (shared && !forOneUser && input.authorized && !(directives.mustRevalidate || directives.public || directives.sMaxAge !== undefined)) {
    return { store: false, reason: 'authorization' };
  }

  // A shared cache never hands one user's cookie to another. It stores a response that
  // sets one only when the origin says the rest is shareable, and then without the cookie.
  if (shared && !forOneUser && response.setsCookie) {
    const qualified = (list: true | string[] | undefined) => Array.isArray(list) && list.includes('set-cookie');
    if (!(directives.public || directives.sMaxAge !== undefined || qualified(directives.noCache) || qualified(directives.private))) {
      return { store: false, reason: 'set-cookie' };
    }
  }

  // An ignored parameter handed back: this response is not the one another value would get.
  if (input.secrets !== undefined && input.secrets.length > 0 && carriesSecret(headers, input.secrets)) return { store: false, reason: 'echoes-redacted' };

  // An event stream (text/event-stream) is a live feed with no end, not a representation to replay.
  if (response.eventStream) return { store: false, reason: 'event-stream' };

  // RFC 9111 §4.1: Vary: * never matches, so storing it is pointless.
  if (response.varyNames.includes('*')) return { store: false, reason: 'vary-star' };

  const configured = configuredLifetime(options, input.url, input.responseTime, input.expireAfter);
  if (configured === 'no-store') return { store: false, reason: input.expireAfter === undefined ? 'url-rule' : 'expire-after' };

  if (options.filter !== undefined && !options.filter({ method: input.method, url: input.url, status, headers })) {
    return { store: false, reason: 'filter' };
  }

  const freshness = freshnessLifetime({
    status,
    headers,
    directives: honour ? directives : {},
    shared,
    cacheControl: honour,
    configured,
    ignoreExpires: targeted,
    responseTime: input.responseTime,
  });
  // Without explicit freshness, only heuristically cacheable statuses get a configured or heuristic lifetime.
  if (honour && options.statuses === undefined && (freshness.source === 'configured' || freshness.source === 'none') && !HEURISTICALLY_CACHEABLE.has(status)) {
    return { store: false, reason: 'status' };
  }

  let flags = 0;
  if (honour) {
    if (directives.noCache === true) flags |= ResponseFlags.noCache;
    if (directives.mustRevalidate) flags |= ResponseFlags.mustRevalidate;
    if (directives.proxyRevalidate) flags |= ResponseFlags.proxyRevalidate;
    if (directives.sMaxAge !== undefined) flags |= ResponseFlags.sMaxAge;
    if (directives.immutable) flags |= ResponseFlags.immutable;
    if (directives.public) flags |= ResponseFlags.public;
  }
  if (input.authorized) flags |= ResponseFlags.authorized;

  const staleWhileRevalidate = honour ? (directives.staleWhileRevalidate ?? -1) : -1;
  const staleIfError = honour ? (directives.staleIfError ?? -1) : -1;
  const hasValidator = response.etag !== undefined || response.lastModified !== undefined;

  const staleWindow = Math.max(
    staleWhileRevalidate * 1000,
    staleIfError * 1000,
    options.staleWhileRevalidate,
    input.staleIfError ?? options.staleIfError,
    hasValidator ? Math.max(REVALIDATION_RETENTION_MS, Math.min(freshness.lifetime, UNBOUNDED_STALE_RETENTION_MS)) : 0,
  );
  // An entry that is stale at once, cannot be revalidated and may never be served stale is of no use.
  if (freshness.lifetime <= 0 && staleWindow <= 0) return { store: false, reason: 'not-reusable' };

  const initialAge = correctedInitialAge(headers, input.requestTime, input.responseTime);
  const staleAt = freshUntil({ responseTime: input.responseTime, initialAge, lifetime: freshness.lifetime });
  const expiresAt = freshness.lifetime === Number.POSITIVE_INFINITY ? undefined : staleAt + Math.min(staleWindow, UNBOUNDED_STALE_RETENTION_MS);

  return {
    store: true,
    lifetime: freshness.lifetime,
    freshness: freshness.source,
    initialAge,
    flags,
    staleWhileRevalidate,
    staleIfError,
    hiddenFields: Array.isArray(directives.noCache) && honour ? directives.noCache : null,
    vary: response.varyNames,
    omit,
    expiresAt,
  };
}

/**
 * What a recording keeps (see recording.ts): every final response but a
 * partial one, whatever its caching headers say, for the configured lifetime
 * (default: as long as the recording lives), without Vary (a recording
 * matches requests by the options: matchHeaders, bodyKey, ignoredParameters)
 * and without Set-Cookie (a session is a secret, and a recording is a file
 * a team commits). A response that hands back an ignored parameter's value
 * is not kept: it would carry that secret into the file.
 */
function recordingDecision(input: StoreInput): StoreDecision {
  const { options, response } = input;
  const status = response.status;
  if (status === 206) return { store: false, reason: 'partial-content' };
  if (status === 304 || status < 200) return { store: false, reason: 'status' };
  if (options.statuses !== undefined && !options.statuses.has(status)) return { store: false, reason: 'status' };
  if (input.secrets !== undefined && input.secrets.length > 0 && carriesSecret(response.headers, input.secrets))
    return { store: false, reason: 'echoes-redacted' };
  const configured = configuredLifetime(options, input.url, input.responseTime, input.expireAfter);
  if (configured === 'no-store') return { store: false, reason: input.expireAfter === undefined ? 'url-rule' : 'expire-after' };
  if (options.filter !== undefined && !options.filter({ method: input.method, url: input.url, status, headers: response.headers })) {
    return { store: false, reason: 'filter' };
  }
  const lifetime = configured ?? Number.POSITIVE_INFINITY;
  return {
    store: true,
    lifetime,
    freshness: 'configured',
    initialAge: 0,
    flags: input.authorized ? ResponseFlags.authorized : 0,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    hiddenFields: null,
    vary: NO_VARY,
    omit: OMIT_COOKIE,
    expiresAt: lifetime === Number.POSITIVE_INFINITY ? undefined : input.responseTime + lifetime,
  };
}

const NO_VARY: readonly string[] = Object.freeze([]);
