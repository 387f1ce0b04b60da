/**
 * `cache.fetch`'s fresh hits, answered without the runtime's fetch. Through
 * fetch, a hit of 10 KB cost 305 µs of CPU against 38 µs for the same
 * Response made at once (docs/performance.md, "cache.fetch"): fetch's request
 * object, its algorithm, its body stream. For the requests where fetch would
 * do nothing to the answer but pass it on, the cache looks the request up as
 * fetch would dispatch it, and answers with a Response equal to the one fetch
 * would give (a differential spec holds them side by side:
 * spec/fetch/hits-at-once.spec.ts). Only while the global fetch is Node's
 * own; anything else — a body, a signal, a dispatcher, a mode, a redirect, a
 * stored encoding fetch would decode, a storage that answers later — goes
 * through fetch as before.
 */
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from './policy/headers.js';

/** A hit as the interceptor serves it (interceptor/replay.ts's ReplayResponse). */
export interface FetchHit {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  body?: Uint8Array | undefined;
}

/** The cache's side: `make` gets the fresh hit for `opts`, if there is one (interceptor/respond.ts, answerAtOnce). */
export type AnswerAtOnce = <T>(opts: Dispatcher.DispatchOptions, make: (hit: FetchHit) => T | undefined) => T | undefined;

/** Members of fetch's init that change what fetch sends or does with the answer: set, fetch answers. */
const FETCH_ANSWERS = [
  'body',
  'signal',
  'dispatcher',
  'integrity',
  'mode',
  'credentials',
  'window',
  'referrer',
  'referrerPolicy',
  'duplex',
  'priority',
] as const;

/**
 * Statuses fetch gives no body (Fetch, "null body status"), follows (redirect
 * status), turns into a network error (407: fetch does no proxy
 * authentication) or sends again on a new connection (421): fetch answers them.
 */
const NOT_AT_ONCE = new Set([101, 103, 204, 205, 304, 301, 302, 303, 307, 308, 407, 421]);

/** The Fetch standard's bad ports ("block bad port"): fetch refuses an http(s) URL on one, before sending anything. */
const BAD_PORTS = new Set(
  (
    '1 7 9 11 13 15 17 19 20 21 22 23 25 37 42 43 53 69 77 79 87 95 101 102 103 104 109 110 111 113 115 117 119 123 135 137 ' +
    '139 143 161 179 389 427 465 512 513 514 515 526 530 531 532 540 548 554 556 563 587 601 636 989 990 993 995 1719 1720 ' +
    '1723 2049 3659 4045 4190 5060 5061 6000 6566 6665 6666 6667 6668 6669 6679 6697 10080'
  ).split(' '),
);

type Init = Record<string, unknown>;

/** A fetch call as the runtime's fetch would dispatch it, and the URL its Response would carry. */
export interface FetchRequest {
  opts: Dispatcher.DispatchOptions & { headers: Record<string, string> };
  url: string;
}

/** What fetch does to a request's headers: the fields it adds, those where its value replaces the caller's, those it changes otherwise. */
interface FetchDefaults {
  /** What a URL's empty query (`/a?`) leaves in the target fetch dispatches: undici 6 drops it, undici 7 keeps it; undefined if neither. */
  emptyQuery: '' | '?' | undefined;
  added: Record<string, string>;
  replaced: Set<string>;
  unknown: Set<string>;
}

/** Per scheme, learned from fetch itself: known, being learned, or not learnable. */
type Defaults = FetchDefaults | 'learning' | 'unknown';

/** One cache's fetch hits: what the runtime's fetch adds to requests, and its Response made for hits. */
export class FetchHits {
  readonly #defaults = new Map<string, Defaults>();
  /** The global fetch the defaults were learned from: another in its place (a mock installed later, or removed) is learned anew. */
  #fetch: unknown;

  /**
   * The request fetch would dispatch for this call, when fetch would do
   * nothing to its answer but pass it on (see FETCH_ANSWERS); undefined
   * otherwise, and until what the runtime's fetch adds is learned.
   */
  prepare(input: unknown, init: Init | null | undefined): FetchRequest | undefined {
    let url: URL;
    if (typeof input === 'string' || input instanceof URL) {
      // fetch reads a URL object as its string, as it reads any input that is no Request.
      try {
        url = new URL(String(input));
      } catch {
        return undefined; // fetch's own TypeError
      }
    } else {
      return undefined;
    }
    const scheme = url.protocol;
    // A URL with credentials is fetch's TypeError, one on a bad port its network error.
    if ((scheme !== 'http:' && scheme !== 'https:') || url.username !== '' || url.password !== '' || BAD_PORTS.has(url.port)) return undefined;
    let given: Headers | undefined;
    if (init != null) {
      for (const name of FETCH_ANSWERS) if (init[name] != null) return undefined;
      if (init['method'] !== undefined && init['method'] !== 'GET') return undefined;
      if (init['redirect'] !== undefined && init['redirect'] !== 'follow') return undefined;
      if (init['headers'] != null) {
        try {
          given = new Headers(init['headers'] as ConstructorParameters<typeof Headers>[0]);
        } catch {
          return undefined; // fetch's own TypeError
        }
      }
    }
    if (this.#fetch !== globalThis.fetch) {
      this.#fetch = globalThis.fetch;
      this.#defaults.clear();
    }
    const defaults = this.#defaultsFor(scheme);
    if (defaults === undefined) return undefined;
    // The headers fetch dispatches: the caller's, as its Headers hold them, and fetch's own where the caller has none.
    const headers: Record<string, string> = Object.create(null);
    if (given !== undefined) {
      for (const [name, value] of given) {
        // fetch changes its cache mode for a conditional request, asks for no encoding with a range, and drops a Host.
        if (name === 'range' || name.startsWith('if-') || name === 'set-cookie' || name === 'host') return undefined;
        headers[name] = value;
      }
    }
    for (const name in defaults.added) {
      if (!(name in headers) || defaults.replaced.has(name)) headers[name] = defaults.added[name] as string;
      else if (defaults.unknown.has(name)) return undefined;
    }
    const href = url.href;
    const hash = href.indexOf('#');
    const responseUrl = hash === -1 ? href : href.slice(0, hash);
    let path = url.pathname + url.search;
    if (url.search === '' && responseUrl.endsWith('?')) {
      if (defaults.emptyQuery === undefined) return undefined;
      path += defaults.emptyQuery;
    }
    return { opts: { origin: url.origin, path, method: 'GET', headers }, url: responseUrl };
  }

  /** The Response for a fresh hit of this request, or undefined: it goes on to the network. */
  answer(request: FetchRequest, lookup: AnswerAtOnce): Response | undefined {
    return lookup(request.opts, (hit) => this.#response(hit, request.url));
  }

  #response(hit: FetchHit, url: string): Response | undefined {
    const fields = passedOn(hit.status, hit.headers);
    if (fields === undefined) return undefined;
    try {
      return fetchedResponse(hit.body ?? new Uint8Array(0), { status: hit.status, statusText: hit.statusText, headers: fields }, url);
    } catch {
      return undefined; // a field or status text Response refuses, and fetch takes as it comes
    }
  }

  /** What fetch adds to the headers of a request to `scheme`; learned on first use, meanwhile undefined. */
  #defaultsFor(scheme: string): FetchDefaults | undefined {
    const known = this.#defaults.get(scheme);
    if (typeof known === 'object') return known;
    if (known === undefined) {
      this.#defaults.set(scheme, 'learning');
      learnDefaults(scheme).then(
        (learned) => this.#defaults.set(scheme, learned ?? 'unknown'),
        () => this.#defaults.set(scheme, 'unknown'),
      );
    }
    return undefined;
  }
}

/**
 * What the runtime's fetch adds to a request's headers (Accept, User-Agent,
 * Accept-Encoding…, which differ by runtime and by scheme), learned from
 * fetch itself: given a dispatcher that notes the headers and refuses, so
 * nothing is sent — once with no headers (what it adds), once with each of
 * those set by the caller (whether the caller's value stays, or fetch's
 * replaces it). Undefined when fetch does not behave so (a fetch replaced by
 * a mock library, say): its hits then all go through it.
 */
async function learnDefaults(scheme: string): Promise<FetchDefaults | undefined> {
  if (!isRuntimeFetch(globalThis.fetch)) return undefined;
  const bare = await sent(scheme, {});
  if (bare === undefined) return undefined;
  const added = bare.headers;
  const marker = 'cachette-probe';
  const given = (await sent(scheme, Object.fromEntries(Object.keys(added).map((name) => [name, marker]))))?.headers;
  if (given === undefined) return undefined;
  const emptyQuery = bare.path === '/?' ? '?' : bare.path === '/' ? '' : undefined;
  const learned: FetchDefaults = { emptyQuery, added, replaced: new Set(), unknown: new Set() };
  for (const name in added) {
    if (given[name] === added[name]) learned.replaced.add(name);
    else if (given[name] !== marker) learned.unknown.add(name);
  }
  return learned;
}

/**
 * Whether `fetch` is Node's own: its source loads Node's internal undici, as
 * no code outside Node can. A fetch wrapped or replaced (msw, nock, a tracer)
 * may answer requests itself, or need to see each one: its requests all go
 * through it, as if the cache had no shortcut.
 */
function isRuntimeFetch(fetch: unknown): boolean {
  return typeof fetch === 'function' && Function.prototype.toString.call(fetch).includes("require('internal/deps/undici/undici')");
}

/** The target and headers (names in lower case) the runtime's fetch dispatches for a GET of `scheme`'s `/?` with `headers`; undefined if it does not dispatch. */
async function sent(scheme: string, headers: Record<string, string>): Promise<{ path: unknown; headers: Record<string, string> } | undefined> {
  const refusal = new Error('cachette: what fetch sends, noted and not sent');
  let seen: { headers?: unknown; path?: unknown } = {};
  const dispatcher = {
    dispatch(
      opts: { headers?: unknown; path?: unknown },
      handler: { onError?: (error: Error) => void; onResponseError?: (controller: unknown, error: Error) => void },
    ) {
      seen = opts;
      queueMicrotask(() => {
        if (typeof handler.onError === 'function') handler.onError(refusal);
        else handler.onResponseError?.({ abort() {}, pause() {}, resume() {}, aborted: true, paused: false, reason: refusal }, refusal);
      });
      return true;
    },
    close: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  try {
    // Node's fetch takes `dispatcher` in its init (RequestInit's DOM type does not name it), and calls only its dispatch().
    await globalThis.fetch(`${scheme}//fetch-defaults.invalid/?`, { headers, dispatcher } as unknown as RequestInit);
    return undefined;
  } catch (error) {
    if (!(error instanceof Error) || (error !== refusal && error.cause !== refusal)) return undefined;
  }
  const sentHeaders = seen.headers;
  if (sentHeaders === null || typeof sentHeaders !== 'object' || Array.isArray(sentHeaders)) return undefined;
  const found: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(sentHeaders)) {
    if (typeof value !== 'string') return undefined;
    found[name.toLowerCase()] = value;
  }
  return { path: seen.path, headers: found };
}

const refuseChange = (): never => {
  throw new TypeError('immutable');
};

/** Headers as fetch's Response holds them: changes refused. */
const IMMUTABLE: PropertyDescriptorMap = {
  append: { value: refuseChange },
  set: { value: refuseChange },
  delete: { value: refuseChange },
};

/**
 * The fields of a response fetch would pass on as they are, one pair per
 * value; undefined when fetch does more with it: a status it follows or gives
 * no body, a content coding it decodes.
 */
export function passedOn(status: number, headers: ResponseHeaders): Array<[string, string]> | undefined {
  if (status < 200 || status > 599 || NOT_AT_ONCE.has(status)) return undefined;
  const fields: Array<[string, string]> = [];
  for (const name in headers) {
    if (name === 'content-encoding') return undefined;
    const value = headers[name];
    if (Array.isArray(value)) {
      for (const one of value) {
        if (!keptAsIs(one)) return undefined;
        fields.push([name, one]);
      }
    } else if (value !== undefined) {
      if (!keptAsIs(value)) return undefined;
      fields.push([name, value]);
    }
  }
  return fields;
}

/** Headers trims blanks around a value; fetch's response keeps a value as the origin sent it. */
function keptAsIs(value: string): boolean {
  if (value === '') return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09;
}

/**
 * A Response as fetch gives it: the runtime's own class and prototype, with
 * the URL, type `basic`, not redirected, headers that refuse changes, and a
 * clone that stays so — set on the instance, where fetch's internal state is
 * out of reach. Throws what Response throws (a field or status text it refuses).
 */
export function fetchedResponse(body: Uint8Array | ReadableStream<Uint8Array>, init: ResponseInit, url: string): Response {
  // Response copies the bytes: the stored body stays the cache's.
  return dressed(new Response(body, init), init, url, body instanceof Uint8Array ? body : undefined);
}

/** `response` as fetch gives it; `bytes`, its body when it has them all (a clone is then made from them, not by a tee). */
function dressed(response: Response, init: ResponseInit, url: string, bytes: Uint8Array | undefined): Response {
  const headers = new Headers(init.headers);
  Object.defineProperties(headers, IMMUTABLE);
  Object.defineProperties(response, {
    url: { value: url },
    type: { value: 'basic' },
    redirected: { value: false },
    headers: { value: headers },
    clone: {
      value: function clone(this: Response): Response {
        // A used or locked body: Response's own TypeError.
        if (this.bodyUsed || this.body?.locked === true) return Response.prototype.clone.call(this);
        return bytes === undefined ? dressed(Response.prototype.clone.call(this), init, url, undefined) : fetchedResponse(bytes, init, url);
      },
    },
  });
  return response;
}
