/**
 * A response, read once: what the policy needs of its header fields, taken
 * from them in one pass when it arrives. Every decision about it — store it,
 * share it with waiting requests, which stored response a 304 updates — reads
 * this view, never the fields again.
 */
import type { CacheControl } from './cache-control.js';
import { headerValue, type ResponseHeaders, splitList } from './headers.js';
import { responseDirectives } from './targeted.js';

export interface ResponseView {
  readonly status: number;
  readonly headers: ResponseHeaders;
  /** The directives that rule it: a targeted field's (RFC 9213) when one is present and valid, else Cache-Control's. */
  readonly directives: Readonly<CacheControl>;
  /** A targeted field ruled: Expires is ignored too. */
  readonly targeted: boolean;
  /** Lower-case request header names from Vary, deduplicated and sorted ('*' included when present). */
  readonly varyNames: readonly string[];
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  /** The declared body length (the first Content-Length, when it is a number). */
  readonly contentLength: number | undefined;
  /** A server-sent event stream (HTML §9.2): a live feed with no end, not a representation to replay. */
  readonly eventStream: boolean;
  readonly setsCookie: boolean;
}

export function readResponse(status: number, headers: ResponseHeaders, targetedCacheControl: readonly string[]): ResponseView {
  const { directives, targeted } = responseDirectives(headers, targetedCacheControl);
  const vary = headers['vary'];
  const contentType = headerValue(headers, 'content-type');
  const length = headerValue(headers, 'content-length');
  return {
    status,
    headers,
    directives,
    targeted,
    varyNames: vary === undefined ? NO_NAMES : varyNamesOf(vary),
    etag: headerValue(headers, 'etag'),
    lastModified: headerValue(headers, 'last-modified'),
    contentLength: length !== undefined && /^\s*\d+\s*$/.test(length) ? Number(length) : undefined,
    eventStream: contentType !== undefined && /^\s*text\/event-stream\s*(;|$)/i.test(contentType),
    setsCookie: headers['set-cookie'] !== undefined,
  };
}

const NO_NAMES: readonly string[] = Object.freeze([]);
/** What a Vary that names something other than field names (`cookie authorization`, a U+00A0) stands for: a response that matches no request. */
const MATCHES_NOTHING: readonly string[] = Object.freeze(['*']);
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Lower-case request field names from Vary, deduplicated and sorted. A
 * member that is no field name cannot be matched safely (two requests that
 * differ in the fields it runs together would share a variant): it reads as
 * `*`, and the response is not stored (RFC 9111 §4.1).
 */
function varyNamesOf(vary: string | string[]): readonly string[] {
  const names = splitList(vary);
  if (names.some((name) => !FIELD_NAME.test(name))) return MATCHES_NOTHING;
  return [...new Set(names.map((name) => name.toLowerCase()))].sort();
}

/** May requests waiting on this one get a copy of it? Not when it is one user's (RFC 9111 §3, §5.2.2), or a live feed. */
export function isShareable(response: ResponseView, shared: boolean): boolean {
  const { directives } = response;
  if (directives.noStore === true || response.eventStream) return false;
  if (shared && (directives.private !== undefined || response.setsCookie)) return false;
  return !response.varyNames.includes('*');
}
