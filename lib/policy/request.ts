/**
 * What the cache makes of a request before any I/O: whether it takes part at
 * all (with a named reason when not), its normalized URL, headers,
 * directives and key.
 */
import { parseCacheControl, type CacheControl } from './cache-control.js';
import { normalizeRequestHeaders, type RequestHeaders, type RequestHeadersInput } from './headers.js';
import { hasCredentials, type KeyPolicy } from './key.js';
import { normalizeRequestUrl, type NormalizedUrl } from './url.js';
import { parseRange, type ByteRange } from './range.js';
import type { ResolvedOptions } from '../options.js';

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
  key: string;
}

export type BypassReason = 'method' | 'credentialed' | 'request-no-store' | 'range' | 'key-error' | 'bad-url' | 'body' | 'form-data';

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
export function analyzeRequest(opts: DispatchLike, options: ResolvedOptions, keys: KeyPolicy, body?: Uint8Array): RequestAnalysis {
  const method = opts.method.toUpperCase();
  if (!options.methods.has(method)) return { cacheable: false, reason: 'method', method, url: undefined, headers: undefined };

  let url: NormalizedUrl;
  try {
    url = normalizeRequestUrl(opts.origin ?? '', opts.path, options.ignoredParameters);
  } catch {
    return { cacheable: false, reason: 'bad-url', method, url: undefined, headers: undefined };
  }
  const headers = normalizeRequestHeaders(opts.headers as RequestHeadersInput);
  const bypass = (reason: BypassReason): RequestAnalysis => ({ cacheable: false, reason, method, url: url.storedUrl, headers });

  if (!options.perCredential && hasCredentials(headers)) return bypass('credentialed');
  // One byte range of a complete entry can be answered; several ranges, or If-Range, go to the origin.
  let range: ByteRange | undefined;
  if (headers['range'] !== undefined) {
    range = method === 'GET' && headers['if-range'] === undefined ? parseRange(headers['range']) : undefined;
    if (range === undefined) return bypass('range');
  }

  const directives = requestDirectives(headers);
  // RFC 9111 §5.2.1.5: no-store on a request: do not store, and do not use the cache either.
  if (directives.noStore === true) return bypass('request-no-store');

  const lookupMethod = method === 'HEAD' ? 'GET' : method;
  let key: string;
  try {
    key = keys.keyFor({ method: lookupMethod, url: url.keyUrl, headers, body });
  } catch {
    return bypass('key-error');
  }
  return {
    cacheable: true,
    request: {
      method,
      conditional: CONDITIONAL_HEADERS.some((name) => headers[name] !== undefined),
      range,
      lookupMethod,
      url,
      headers,
      directives,
      authorized: headers['authorization'] !== undefined,
      key,
    },
  };
}

/** Request Cache-Control, with `Pragma: no-cache` read as no-cache when Cache-Control is absent (RFC 9111 §5.4). */
export function requestDirectives(headers: RequestHeaders): CacheControl {
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined) return parseCacheControl(cacheControl);
  const pragma = headers['pragma'];
  if (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { noCache: true };
  return {};
}
