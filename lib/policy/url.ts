/**
 * Request URLs in keys and in what leaves the cache.
 *
 * The key's URL is the target URI the origin will see, with nothing it can
 * tell apart merged: the path's bytes as sent, the query's parameters sorted
 * by name (repeated names keep their order, every byte of each kept), an
 * empty query (`/p?`) apart from none, a fragment a raw dispatch sends kept;
 * only the origin is made canonical (lower-case scheme and host, no default
 * port: RFC 9110 §4.2.3). Ignored parameters are left out of the key.
 *
 * Every URL that leaves the cache — stored in a record, published in an
 * event, listed, exported, printed — passes `redactUrl` first.
 */

import { lowerAscii, trimOws } from '../ascii.js';
import { decodeName, redactUrl } from '../redact.js';

export interface NormalizedUrl {
  /** The URL the key is built from: the connection's origin, the path as sent (sorted query, ignored parameters out). */
  keyUrl: string;
  /**
   * The URL recorded in the entry and shown: the target URI (a `Host` that
   * differs from the origin's names its authority), sorted query, redacted (`redactUrl`).
   */
  storedUrl: string;
}

/** What URLs are made of in this cache: which query parameters the key ignores, which names are redacted. */
export interface UrlPolicy {
  /** Parameter names left out of the key, exact (names are case-sensitive). */
  readonly ignored: ReadonlySet<string>;
  /** Names whose values never leave the cache, lower-case (matched whatever their case). */
  readonly redacted: ReadonlySet<string>;
}

export const NO_URL_POLICY: UrlPolicy = { ignored: new Set(), redacted: new Set() };

/** The canonical origin of `origin` ("HTTP://Example.COM:80/" → "http://example.com"). */
export function canonicalOrigin(origin: string | URL): string {
  return typeof origin === 'string' ? new URL(origin).origin : origin.origin;
}

/**
 * Normalizes an origin and a request path as undici sends it (it may carry a
 * query and, from a raw dispatch, a fragment). Throws on a path that is not
 * in origin-form (the caller bypasses those).
 * @param canonical how the origin is made canonical (a cache remembers the origins it met).
 * @param host the request's `Host` field, when it has one (it names the target's authority).
 */
export function normalizeRequestUrl(
  origin: string | URL,
  path: string,
  policy: UrlPolicy,
  canonical: (origin: string | URL) => string = canonicalOrigin,
  host?: string,
): NormalizedUrl {
  if (path[0] !== '/') throw new TypeError(`not a path in origin-form: ${JSON.stringify(path.slice(0, 64))}`);
  const base = canonical(origin);
  const override = host === undefined ? undefined : authorityOverride(host, base);
  const shownBase = override === undefined ? base : `${base.slice(0, base.indexOf(':'))}://${override}`;
  let fragment = '';
  const hash = path.indexOf('#');
  if (hash !== -1) {
    fragment = path.slice(hash);
    path = path.slice(0, hash);
  }
  const question = path.indexOf('?');
  const pathname = question === -1 ? path : path.slice(0, question);
  if (question === -1) {
    return { keyUrl: base + pathname + fragment, storedUrl: shown(shownBase + pathname, policy, override) };
  }
  const query = path.slice(question + 1);
  if (query === '') return { keyUrl: `${base}${pathname}?${fragment}`, storedUrl: shown(`${shownBase}${pathname}?`, policy, override) };
  if (alreadyNormal(query, policy.ignored)) {
    return { keyUrl: `${base}${pathname}?${query}${fragment}`, storedUrl: shown(`${shownBase}${pathname}?${query}`, policy, override) };
  }
  const { kept, all } = sortQuery(query, policy.ignored);
  return {
    keyUrl: kept === undefined ? base + pathname + fragment : `${base}${pathname}?${kept}${fragment}`,
    storedUrl: shown(`${shownBase}${pathname}?${all}`, policy, override),
  };
}

/** Normalizes an absolute URL given by a user (for `delete`, `contains`, `inspect`). */
export function normalizeAbsoluteUrl(url: string | URL, policy: UrlPolicy, host?: string): NormalizedUrl {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return normalizeRequestUrl(parsed.origin, parsed.pathname + parsed.search, policy, canonicalOrigin, host);
}

/**
 * The authority a `Host` field names, when it is not the origin's own
 * (lower-case, without the scheme's default port); undefined when it is.
 * RFC 9110 §7.2: Host, not the connection, says which resource is meant.
 */
export function authorityOverride(host: string, base: string): string | undefined {
  // As HTTP reads it: only SP and HTAB around it, only A-Z with a lower case (no U+00A0 trimmed, no À folded).
  let authority = lowerAscii(trimOws(host));
  const scheme = base.slice(0, base.indexOf(':'));
  if ((scheme === 'http' && authority.endsWith(':80')) || (scheme === 'https' && authority.endsWith(':443'))) {
    authority = authority.slice(0, authority.lastIndexOf(':'));
  }
  return authority === base.slice(scheme.length + 3) ? undefined : authority;
}

/** The URL as stored and shown: redacted (an authority a Host named may hold user information, a fragment). */
function shown(url: string, policy: UrlPolicy, override: string | undefined): string {
  return policy.redacted.size === 0 && override === undefined ? url : redactUrl(url, policy.redacted);
}

/**
 * Whether sorting would give the query back as it is (most do: one parameter,
 * or names in order): no empty parameter, no name to decode or to ignore,
 * names in order. Sorting is stable, so repeated names keep their order.
 */
function alreadyNormal(query: string, ignored: ReadonlySet<string>): boolean {
  let previous = '';
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end === start) return false;
    const equals = query.indexOf('=', start);
    const name = query.slice(start, equals === -1 || equals > end ? end : equals);
    // Names with capitals are sorted as their lower case: left to sortQuery.
    if (name < previous || /[%+A-Z]/.test(name) || (ignored.size > 0 && ignored.has(name))) return false;
    previous = name;
    start = end + 1;
  }
  return true;
}

/**
 * The parameters sorted by decoded name, each as its raw bytes (an empty one
 * included): all of them (for the stored URL, redacted afterwards), and the
 * ones the key keeps (undefined when the key ignores every one). Names are
 * compared as their lower case: an origin that reads names whatever their
 * case (ASP.NET does) sees `?A=1&a=2` and `?a=2&A=1` differently, and they
 * keep their order.
 */
function sortQuery(query: string, ignored: ReadonlySet<string>): { kept: string | undefined; all: string } {
  const params: Array<{ name: string; order: string; raw: string; index: number }> = [];
  let index = 0;
  for (const raw of query.split('&')) {
    const equals = raw.indexOf('=');
    const name = decodeName(equals === -1 ? raw : raw.slice(0, equals));
    params.push({ name, order: name.toLowerCase(), raw, index: index++ });
  }
  // Sort by name, keeping the original order of repeated names (it can be meaningful).
  params.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : a.index - b.index));
  const kept: string[] = [];
  const all: string[] = [];
  for (const param of params) {
    all.push(param.raw);
    if (!ignored.has(param.name)) kept.push(param.raw);
  }
  return { kept: kept.length === 0 ? undefined : kept.join('&'), all: all.join('&') };
}
