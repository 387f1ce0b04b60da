/**
 * The request target as undici will send it. undici's `request`, `stream`
 * and `pipeline` take the query apart from the path (`query`), and undici
 * joins them only when it writes the request line, with `node:querystring`
 * (its core/request.js). The cache joins them the same way first, and
 * forwards the joined path: what the key reads is what the origin gets.
 */
import { stringify } from 'node:querystring';
import type { Dispatcher } from 'undici';

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
