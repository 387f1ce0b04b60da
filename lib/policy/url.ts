/**
 * URL normalization for cache keys: lower-case scheme and host and no default
 * port (the WHATWG origin), query parameters sorted by name, fragment dropped.
 * Ignored parameters are left out of the key and redacted in what is stored.
 */

const REDACTED = 'REDACTED';

export interface NormalizedUrl {
  /** The URL the key is built from: sorted query, ignored parameters removed. */
  keyUrl: string;
  /** The URL recorded in the entry: sorted query, ignored parameters' values redacted. */
  storedUrl: string;
}

/** The canonical origin of `origin` ("HTTP://Example.COM:80/" → "http://example.com"). */
export function canonicalOrigin(origin: string | URL): string {
  return typeof origin === 'string' ? new URL(origin).origin : origin.origin;
}

/**
 * Normalizes an origin and a request path (which may carry a query and a fragment).
 * @param canonical how the origin is made canonical (a cache remembers the origins it met).
 */
export function normalizeRequestUrl(
  origin: string | URL,
  path: string,
  ignored: ReadonlySet<string>,
  canonical: (origin: string | URL) => string = canonicalOrigin,
): NormalizedUrl {
  const base = canonical(origin);
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  const question = path.indexOf('?');
  let pathname = question === -1 ? path : path.slice(0, question);
  if (pathname === '' || pathname[0] !== '/') pathname = `/${pathname}`;
  if (question === -1 || question === path.length - 1) {
    const url = base + pathname;
    return { keyUrl: url, storedUrl: url };
  }
  const { keyQuery, storedQuery } = normalizeQuery(path.slice(question + 1), ignored);
  return {
    keyUrl: keyQuery === '' ? base + pathname : `${base}${pathname}?${keyQuery}`,
    storedUrl: storedQuery === '' ? base + pathname : `${base}${pathname}?${storedQuery}`,
  };
}

/** Normalizes an absolute URL given by a user (for `delete`, `contains`). */
export function normalizeAbsoluteUrl(url: string | URL, ignored: ReadonlySet<string>): NormalizedUrl {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return normalizeRequestUrl(parsed.origin, parsed.pathname + parsed.search, ignored);
}

function normalizeQuery(query: string, ignored: ReadonlySet<string>): { keyQuery: string; storedQuery: string } {
  return alreadyNormal(query, ignored) ? { keyQuery: query, storedQuery: query } : sortQuery(query, ignored);
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
    if (name < previous || name.includes('%') || name.includes('+') || (ignored.size > 0 && ignored.has(name))) return false;
    previous = name;
    start = end + 1;
  }
  return true;
}

function sortQuery(query: string, ignored: ReadonlySet<string>): { keyQuery: string; storedQuery: string } {
  const params: Array<{ name: string; raw: string; index: number }> = [];
  let index = 0;
  for (const raw of query.split('&')) {
    if (raw === '') continue;
    const equals = raw.indexOf('=');
    params.push({ name: decodeName(equals === -1 ? raw : raw.slice(0, equals)), raw, index: index++ });
  }
  // Sort by name, keeping the original order of repeated names (it can be meaningful).
  params.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  const kept: string[] = [];
  const stored: string[] = [];
  for (const param of params) {
    if (ignored.has(param.name)) {
      const equals = param.raw.indexOf('=');
      stored.push(`${equals === -1 ? param.raw : param.raw.slice(0, equals)}=${REDACTED}`);
    } else {
      kept.push(param.raw);
      stored.push(param.raw);
    }
  }
  return { keyQuery: kept.join('&'), storedQuery: stored.join('&') };
}

function decodeName(name: string): string {
  if (name.indexOf('%') === -1 && name.indexOf('+') === -1) return name;
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
