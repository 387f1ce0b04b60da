/**
 * The request as undici will send it. undici's `request`, `stream` and
 * `pipeline` take the query apart from the path (`query`), and undici joins
 * them only when it writes the request line, with `node:querystring` (its
 * core/request.js). The cache joins them the same way first, and forwards the
 * joined path: what the key reads is what the origin gets. The same for a
 * request sent after a wait (a lookup, an identical request under way): its
 * options are copied before it (ownOptions), so that the caller's objects,
 * changed meanwhile for its next request, change nothing of this one.
 */
import type { Dispatcher } from 'undici';
import { flattenHeaderPairs } from '../policy/headers.js';

const { stringify } = process.getBuiltinModule('node:querystring'); // not an import (a cold start: scripts/bundle.mjs)

type Options = Dispatcher.DispatchOptions;

/**
 * The options with `query` joined to `path`; undefined when the path has a
 * query or fragment of its own (undici refuses to join them: the request is
 * left to undici, which says so).
 */
export function withQueryInPath(opts: Options): Options | undefined {
  if (opts.path.includes('?') || opts.path.includes('#')) return undefined;
  const query = stringify(opts.query as Parameters<typeof stringify>[0]);
  const joined: Options = Object.assign({}, opts);
  joined.path = query === '' ? opts.path : `${opts.path}?${query}`;
  joined.query = undefined;
  return joined;
}

/** Marks options that are the cache's own copy. */
const OWN = Symbol('cachette.ownOptions');

/**
 * The options as they are now, in a copy of the cache's own: the object, a
 * URL origin, and the header fields, copied as undici reads them (an object's
 * own keys, a flat list, an iterable of pairs as a flat list), values and
 * all. undici reads a request's options when it is dispatched; the cache may
 * send it later (after a lookup, behind an identical request), and a caller
 * that reuses its options or headers object for its next request would
 * otherwise have this one sent with the next one's path or fields — and its
 * answer stored under the key and Vary values read from the first.
 */
export function ownOptions(opts: Options): Options {
  if ((opts as { [OWN]?: true })[OWN] === true) return opts;
  const own = Object.assign({}, opts) as Options & { [OWN]?: true };
  own[OWN] = true;
  if (opts.origin instanceof URL) own.origin = new URL(opts.origin.href);
  const headers = opts.headers as unknown;
  if (headers != null && typeof headers === 'object') {
    const copy = copyHeaders(headers);
    if (copy !== undefined) own.headers = copy;
  }
  return own;
}

/** undefined when undici would refuse them (an iterable of other than pairs): left for undici to say so. */
function copyHeaders(headers: object): Options['headers'] | undefined {
  if (Array.isArray(headers)) return headers.map(copyValue) as string[];
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return flattenHeaderPairs([...(headers as Iterable<unknown>)])?.map(copyValue) as string[] | undefined;
  }
  // Without a prototype: a field named __proto__ stays a field.
  const own: Record<string, unknown> = Object.create(null);
  for (const name of Object.keys(headers)) own[name] = copyValue((headers as Record<string, unknown>)[name]);
  return own as Record<string, string>;
}

function copyValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value instanceof Uint8Array) return Buffer.from(value);
  return value;
}
