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
import { requestSecrets, type Secret } from './secrets.js';
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
  /** What the request carries under an ignored parameter's name: a response that carries one back is not stored. */
  secrets: readonly Secret[];
}

type BypassReason =
  | 'method'
  | 'credentialed'
  | 'request-no-store'
  | 'no-store'
  | 'range'
  | 'key-error'
  | 'bad-url'
  | 'absolute-form'
  | 'method-override'
  | 'origin-mismatch'
  | 'no-origin'
  | 'body'
  | 'form-data';

/** Methods whose responses the cache serves by default semantics; any other listed in `methods` is keyed by its body. */
export const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Fields by which a request asks its origin to treat it as another method
 * (Google's APIs, Rails, Express's method-override): such a GET is not the
 * GET its key would say.
 */
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/** What undici refuses in a request target (its core/request.js): anything outside `!` to U+00FF. */
const UNSENDABLE_PATH = /[^\u0021-\u00ff]/;

/** RFC 9110 §13.1: a request carrying any of these is the client's own conditional request. */
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'];

export type RequestAnalysis =
  | { cacheable: true; request: CacheRequest }
  | { cacheable: false; reason: BypassReason; method: string; url: string | undefined; headers: RequestHeaders | undefined };

export interface DispatchLike {
  origin?: string | URL | undefined;
  /** The request target as undici sends it (undici's `query` already folded in). */
  path: string;
  method: string;
  headers?: unknown;
  body?: unknown;
}

/**
 * @param body for methods keyed by their body (see SAFE_METHODS), the body bytes as sent.
 */
export function analyzeRequest(
  opts: DispatchLike,
  options: ResolvedOptions,
  keys: KeyPolicy,
  body?: Uint8Array,
  control: RequestControl = NO_CONTROL,
): RequestAnalysis {
  // RFC 9110 §9.1: methods are case-sensitive; `get` is not GET (and origins answer it otherwise).
  const method = opts.method;
  if (!options.methods.has(method)) return { cacheable: false, reason: 'method', method, url: undefined, headers: undefined };
  const headers = normalizeRequestHeaders(opts.headers as RequestHeadersInput);
  // Only a path in origin-form names a resource of the origin's; an absolute-form target names another.
  if (opts.path[0] !== '/') return { cacheable: false, reason: /^https?:\/\//i.test(opts.path) ? 'absolute-form' : 'bad-url', method, url: undefined, headers };
  // A target undici refuses to send (a blank, a control character, past U+00FF): undici says why, nothing is looked up for it.
  if (UNSENDABLE_PATH.test(opts.path)) return { cacheable: false, reason: 'bad-url', method, url: undefined, headers };
  // A GET or HEAD with a body (undici sends one): the key does not read bodies of these methods.
  if (body === undefined && hasBody(opts.body)) return refused('body', method, storedUrlOf(opts, options, keys, headers), headers);
  // Fetch's no-store mode: the cache is neither read nor written.
  if (control.mode === 'no-store') return refused('no-store', method, storedUrlOf(opts, options, keys, headers), headers);
  // Most requests carry none of the fields looked at below: one comparison says so.
  const plain = headers === NO_REQUEST_HEADERS;
  const credentialed = !plain && hasCredentials(headers);
  if (credentialed && !options.perCredential) {
    return refused('credentialed', method, storedUrlOf(opts, options, keys, headers), headers);
  }
  if (!plain && METHOD_OVERRIDES.some((name) => headers[name] !== undefined)) {
    return refused('method-override', method, storedUrlOf(opts, options, keys, headers), headers);
  }

  const lookupMethod = method === 'HEAD' ? 'GET' : method;
  // The URL and key of a request that only its method and URL identify are remembered (a Host field names another resource).
  const memoId =
    body === undefined && !credentialed && keys.keyDependsOnUrlOnly && control.key === undefined && (plain || headers['host'] === undefined)
      ? memoIdOf(lookupMethod, opts)
      : undefined;
  let resolved = memoId === undefined ? undefined : keys.resolved(memoId, opts.path);
  if (resolved === undefined) {
    let url: NormalizedUrl;
    try {
      url = normalizeRequestUrl(opts.origin ?? '', opts.path, options.urls, keys.canonicalOrigin, plain ? undefined : headers['host']);
    } catch {
      return { cacheable: false, reason: 'bad-url', method, url: undefined, headers: undefined };
    }
    let key: string;
    try {
      key = control.key === undefined ? keys.keyFor({ method: lookupMethod, url: url.keyUrl, headers, body }) : keys.givenKey(control.key, headers, url.keyUrl);
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
      secrets: requestSecrets(opts.path, headers, body, options.urls.redacted),
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

function storedUrlOf(opts: DispatchLike, options: ResolvedOptions, keys: KeyPolicy, headers: RequestHeaders): string | undefined {
  try {
    return normalizeRequestUrl(opts.origin ?? '', opts.path, options.urls, keys.canonicalOrigin, headers['host']).storedUrl;
  } catch {
    return undefined;
  }
}

/** Whether undici will send a body: anything but nothing, an empty string or empty bytes (a stream may be empty, but is read only by sending it). */
function hasBody(body: unknown): boolean {
  if (body === undefined || body === null) return false;
  if (typeof body === 'string') return body.length > 0;
  if (ArrayBuffer.isView(body)) return body.byteLength > 0;
  if (body instanceof ArrayBuffer) return body.byteLength > 0;
  return true;
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
