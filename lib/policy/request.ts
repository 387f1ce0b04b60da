/**
 * What the cache makes of a request before any I/O: whether it takes part at
 * all (with a named reason when not), its normalized URL, headers,
 * directives and key.
 */

import type { ResolvedOptions } from '../options.js';
import { type CacheControl, parseCacheControl } from './cache-control.js';
import { NO_CONTROL, type RequestControl } from './control.js';
import { NO_REQUEST_HEADERS, normalizeRequestHeaders, type RequestHeaders, type RequestHeadersInput } from './headers.js';
import { hasCredentials, type KeyPolicy } from './key.js';
import { type ByteRange, parseRange } from './range.js';
import { type NormalizedUrl, normalizeRequestUrl } from './url.js';

export interface CacheRequest {
  method: string;
  /** The client sent its own validators (If-None-Match...): forwarded untouched. */
  conditional: boolean;
  /** A single byte range asked for (answered from a complete fresh entry, else forwarded). */
  range: ByteRange | undefined;
  /** The method whose stored responses answer this request (HEAD is answered from GET). */
  lookupMethod: string;
  url: NormalizedUrl;
  headers: RequestHeaders;
  directives: CacheControl;
  authorized: boolean;
  /** The request carries credentials and is keyed by them (`credentialed: 'per-credential'`): its entry is that credential's alone. */
  perCredential: boolean;
  key: string;
  /** What the caller asked of the cache for this request (fetch's cache mode, a lifetime, a key...). */
  control: RequestControl;
}

type BypassReason = 'method' | 'credentialed' | 'request-no-store' | 'no-store' | 'range' | 'key-error' | 'bad-url' | 'no-origin' | 'body' | 'form-data';

/** Methods whose responses the cache serves by default semantics; any other listed in `methods` is keyed by its body. */
export const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** RFC 9110 §13.1: a request carrying any of these is the client's own conditional request. */
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'];

export type RequestAnalysis =
  | { cacheable: true; request: CacheRequest }
  | { cacheable: false; reason: BypassReason; method: string; url: string | undefined; headers: RequestHeaders | undefined };

export interface DispatchLike {
  origin?: string | URL | undefined;
  path: string;
  method: string;
  headers?: unknown;
}

/**
 * @param body for methods keyed by their body (see SAFE_METHODS), the body bytes, already normalized.
 */
export function analyzeRequest(
  opts: DispatchLike,
  options: ResolvedOptions,
  keys: KeyPolicy,
  body?: Uint8Array,
  control: RequestControl = NO_CONTROL,
): RequestAnalysis {
  const method = opts.method.toUpperCase();
  if (!options.methods.has(method)) return { cacheable: false, reason: 'method', method, url: undefined, headers: undefined };
  const headers = normalizeRequestHeaders(opts.headers as RequestHeadersInput);
  // Fetch's no-store mode: the cache is neither read nor written.
  if (control.mode === 'no-store') return refused('no-store', method, storedUrlOf(opts, options, keys), headers);
  // Most requests carry none of the fields looked at below: one comparison says so.
  const plain = headers === NO_REQUEST_HEADERS;
  const credentialed = !plain && hasCredentials(headers);
  if (credentialed && !options.perCredential) {
    return refused('credentialed', method, storedUrlOf(opts, options, keys), headers);
  }

  const lookupMethod = method === 'HEAD' ? 'GET' : method;
  // The URL and key of a request that only its method and URL identify are remembered.
  const memoId = body === undefined && !credentialed && keys.keyDependsOnUrlOnly && control.key === undefined ? memoIdOf(lookupMethod, opts) : undefined;
  let resolved = memoId === undefined ? undefined : keys.resolved(memoId, opts.path);
  if (resolved === undefined) {
    let url: NormalizedUrl;
    try {
      url = normalizeRequestUrl(opts.origin ?? '', opts.path, options.ignoredParameters, keys.canonicalOrigin);
    } catch {
      return { cacheable: false, reason: 'bad-url', method, url: undefined, headers: undefined };
    }
    let key: string;
    try {
      key = control.key === undefined ? keys.keyFor({ method: lookupMethod, url: url.keyUrl, headers, body }) : keys.givenKey(control.key, headers);
    } catch {
      return refused('key-error', method, url.storedUrl, headers);
    }
    resolved = { url, key };
    if (memoId !== undefined) keys.remember(memoId, opts.path, resolved);
  }
  const { url, key } = resolved;

  // One byte range of a complete entry can be answered; several ranges, or If-Range, go to the origin.
  let range: ByteRange | undefined;
  if (!plain && headers['range'] !== undefined) {
    range = method === 'GET' && headers['if-range'] === undefined ? parseRange(headers['range']) : undefined;
    if (range === undefined) return refused('range', method, url.storedUrl, headers);
  }

  let directives = plain ? NO_DIRECTIVES : requestDirectives(headers);
  // Fetch's no-cache mode validates whatever is stored, an immutable response included.
  if (control.mode === 'no-cache' && directives.noCache !== true) directives = { ...directives, noCache: true };
  // RFC 9111 §5.2.1.5: no-store on a request: do not store, and do not use the cache either.
  if (directives.noStore === true) return refused('request-no-store', method, url.storedUrl, headers);

  return {
    cacheable: true,
    request: {
      method,
      conditional: !plain && isConditional(headers),
      range,
      lookupMethod,
      url,
      headers,
      directives,
      authorized: !plain && headers['authorization'] !== undefined,
      perCredential: credentialed,
      key,
      control,
    },
  };
}

/** Method and origin, the first half of what identifies a request in the key memo (its path is the second). */
function memoIdOf(method: string, opts: DispatchLike): string | undefined {
  const origin = opts.origin;
  if (origin === undefined) return undefined;
  const text = typeof origin === 'string' ? origin : origin.origin;
  // Most requests are GETs to an origin seen before: the same string, not a new one each time.
  if (method === 'GET') return text;
  return `${method} ${text}`;
}

function storedUrlOf(opts: DispatchLike, options: ResolvedOptions, keys: KeyPolicy): string | undefined {
  try {
    return normalizeRequestUrl(opts.origin ?? '', opts.path, options.ignoredParameters, keys.canonicalOrigin).storedUrl;
  } catch {
    return undefined;
  }
}

function isConditional(headers: RequestHeaders): boolean {
  for (const name of CONDITIONAL_HEADERS) if (headers[name] !== undefined) return true;
  return false;
}

function refused(reason: BypassReason, method: string, url: string | undefined, headers: RequestHeaders): RequestAnalysis {
  return { cacheable: false, reason, method, url, headers };
}

/** Most requests carry no directive: they share this one (read-only) object. */
const NO_DIRECTIVES: CacheControl = Object.freeze({});

/** Request Cache-Control, with `Pragma: no-cache` read as no-cache when Cache-Control is absent (RFC 9111 §5.4). */
function requestDirectives(headers: RequestHeaders): CacheControl {
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined) return parseCacheControl(cacheControl);
  const pragma = headers['pragma'];
  if (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { noCache: true };
  return NO_DIRECTIVES;
}
