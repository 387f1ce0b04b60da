/**
 * `cache.fetch` answered without undici's fetch machinery: when storage reads
 * synchronously and holds a fresh, plain response for a plain GET or HEAD,
 * the Response is built from it directly — the same status, headers, body,
 * `url` and `type` as fetch would have produced from the same hit, at a
 * fraction of the cost. Anything else (a miss, a stale entry, Vary, a
 * redirect, an encoded body, a conditional or range request, a fetch option
 * with an effect of its own) goes through fetch and the interceptor as usual.
 */
import type { UnderlyingByteSource } from 'node:stream/web';
import { Headers, Request, Response } from 'undici';
import type { CacheContext } from './context.js';
import { analyzeRequest } from '../policy/request.js';
import { reuseDecision } from '../policy/reuse.js';
import { pairValue } from '../policy/headers.js';
import { lookupSync } from './lookup.js';
import { servedHeaders } from './served.js';
import { decide } from './respond.js';

/**
 * `init` members a direct answer honours, with the values it honours (fetch
 * gives the others a meaning of their own, or an error): any other member
 * that is not undefined, and fetch answers.
 */
const HONOURED = new Map<string | symbol, (value: unknown) => boolean>([
  ['method', (value) => typeof value === 'string' && /^(get|head)$/i.test(value)],
  ['headers', () => true], // checked below
  ['signal', (value) => value === null || value instanceof AbortSignal],
  // A fresh plain response is no redirect: every redirect mode gets it as it is.
  ['redirect', (value) => value === 'follow' || value === 'manual' || value === 'error'],
  ['body', (value) => value === null],
  ['cache', (value) => value === 'default'],
  ['credentials', (value) => value === 'same-origin' || value === 'include' || value === 'omit'],
  ['mode', (value) => value === 'cors'],
  ['keepalive', (value) => typeof value === 'boolean'],
  ['priority', (value) => value === 'auto'],
  ['window', (value) => value === null],
]);

/** Request headers fetch would send as given, that can be read here without using them up. */
function readableTwice(headers: unknown): boolean {
  if (Array.isArray(headers) || headers instanceof Headers || headers instanceof globalThis.Headers) return true;
  if (headers === null || typeof headers !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(headers);
  // A record; not an iterator, a generator, or another object whose reading has effects.
  return (prototype === Object.prototype || prototype === null) && !(Symbol.iterator in headers);
}

/** Statuses answered directly: those with a body fetch hands over as is (no redirect, no null-body status). */
function answersDirectly(status: number): boolean {
  return status >= 200 && status < 300 && status !== 204 && status !== 205 && status !== 206;
}

/** fetch decodes Content-Encoding itself (all but identity). */
function isEncoded(headers: readonly string[]): boolean {
  const encoding = pairValue(headers, 'content-encoding');
  return encoding !== undefined && encoding.trim().toLowerCase() !== 'identity';
}

/** What a URL string parses to, remembered: parsing is most of the cost otherwise. */
interface Target {
  origin: string;
  path: string;
  /** What fetch reports as `response.url`: the URL without its fragment. */
  href: string;
}

const TARGETS_MAX = 4096;
const targets = new Map<string, Target | null>();

function targetOf(input: string): Target | null {
  let target = targets.get(input);
  if (target === undefined) {
    target = parseTarget(input);
    if (targets.size >= TARGETS_MAX) targets.clear();
    targets.set(input, target);
  }
  return target;
}

function parseTarget(input: string): Target | null {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return null; // fetch says what is wrong with it
  }
  // fetch refuses credentials in URLs and handles other schemes itself.
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') return null;
  url.hash = '';
  return { origin: url.origin, path: `${url.pathname}${url.search}`, href: url.href };
}

/** The response fetch would give for this hit, or undefined when fetch must answer. */
export function fetchHit(ctx: CacheContext, input: unknown, init: unknown): Response | undefined {
  if (ctx.options.disabled || !ctx.responses.readsSync) return undefined;
  try {
    return answer(ctx, input, init);
  } catch {
    return undefined; // an input or init that throws when read: fetch's error to give
  }
}

function answer(ctx: CacheContext, input: unknown, init: unknown): Response | undefined {
  // fetch reads any input but a Request as a string (a URL's toString is its href).
  const target = typeof input === 'string' ? targetOf(input)
    : typeof input === 'object' && input !== null && !(input instanceof Request) ? targetOf(String(input))
    : null;
  if (target === null) return undefined;

  let method = 'GET';
  let headers: unknown;
  let signal: AbortSignal | undefined;
  if (init !== undefined && init !== null) {
    // A plain object: members of a class instance (getters on its prototype) are fetch's to read.
    if (typeof init !== 'object') return undefined;
    const prototype: unknown = Object.getPrototypeOf(init);
    if (prototype !== Object.prototype && prototype !== null) return undefined;
    const members = init as Record<string | symbol, unknown>;
    for (const name of Reflect.ownKeys(members)) {
      const value = members[name];
      if (value === undefined) continue;
      const honours = HONOURED.get(name);
      if (honours === undefined || !honours(value)) return undefined;
    }
    if (typeof members['method'] === 'string') method = members['method'].toUpperCase();
    if (members['signal'] instanceof AbortSignal) {
      signal = members['signal'];
      if (signal.aborted) return undefined; // fetch rejects with its reason
    }
    if (members['headers'] !== undefined) {
      if (!readableTwice(members['headers'])) return undefined;
      try {
        // Validated as fetch would (a bad name or value, or null, is fetch's TypeError to give).
        headers = new Headers(members['headers'] as ConstructorParameters<typeof Headers>[0]);
      } catch {
        return undefined;
      }
    }
  }

  // Keys that depend on request headers would see the ones fetch adds (Accept, User-Agent...) too.
  if (!ctx.keys.keyDependsOnUrlOnly) return undefined;
  const analysis = analyzeRequest({ origin: target.origin, path: target.path, method, headers }, ctx.options, ctx.keys);
  if (!analysis.cacheable) return undefined;
  const request = analysis.request;
  // fetch adds Cache-Control: no-cache to conditional requests; ranges are cut by the interceptor.
  if (request.conditional || request.range !== undefined) return undefined;
  const found = lookupSync(ctx, request);
  // A Vary'd entry is chosen by headers fetch adds: fetch must send them.
  if (found === undefined || !found.found || found.variants !== undefined) return undefined;
  const entry = found.entry;
  if (!answersDirectly(entry.status) || isEncoded(entry.headers)) return undefined;
  const reuse = reuseDecision(entry, request.directives, ctx.options, Date.now());
  if (reuse.action !== 'serve' || reuse.refresh) return undefined;

  const served = servedHeaders(entry, Math.floor(reuse.ageMs / 1000), reuse.ttl, reuse.reason === 'fresh' ? undefined : reuse.reason);
  let response: Response;
  try {
    const fields = new Headers();
    for (const name in served.headers) {
      const value = served.headers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) fields.append(name, item);
      else fields.append(name, value);
    }
    const body = method === 'HEAD' ? null : signal === undefined ? entry.body : abortableBody(entry.body, signal);
    response = new FetchedResponse(body, { status: entry.status, statusText: entry.statusText, headers: fields }, target.href);
  } catch {
    return undefined; // something fetch would reject, or repair: let it
  }
  decide(ctx, request, 'hit', reuse.reason);
  return response;
}

/**
 * A body that, like fetch's, fails with the signal's reason when the signal
 * aborts before it has been read to its end; read, it lets go of the signal.
 */
function abortableBody(bytes: Uint8Array, signal: AbortSignal): ReadableStream<Uint8Array> {
  let onAbort: (() => void) | undefined;
  let given = false;
  const release = (): void => signal.removeEventListener('abort', onAbort as () => void);
  const source: UnderlyingByteSource = {
    type: 'bytes',
    start(controller) {
      onAbort = () => controller.error(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    },
    pull(controller) {
      // The bytes on the first read, the end on the next: an abort in between still fails the body.
      if (!given && bytes.byteLength > 0) {
        given = true;
        controller.enqueue(new Uint8Array(bytes));
        return;
      }
      release();
      controller.close();
      controller.byobRequest?.respond(0);
    },
    cancel: release,
  };
  return new ReadableStream(source) as ReadableStream<Uint8Array>;
}

/**
 * A Response with what fetch sets and a constructed one cannot: its URL and
 * type "basic" — kept by `clone()` too.
 */
class FetchedResponse extends Response {
  readonly #url: string;

  constructor(body: ConstructorParameters<typeof Response>[0], init: ConstructorParameters<typeof Response>[1], url: string) {
    super(body, init);
    this.#url = url;
  }

  // `url` and `type` are properties in undici's types (getters in fact): defined here, where #url can be read.
  static {
    Object.defineProperties(FetchedResponse.prototype, {
      url: {
        get(this: FetchedResponse): string {
          return this.#url;
        },
        configurable: true,
      },
      type: {
        get(): string {
          return 'basic';
        },
        configurable: true,
      },
    });
  }

  override clone(): Response {
    const copy = super.clone();
    return new FetchedResponse(copy.body, { status: copy.status, statusText: copy.statusText, headers: copy.headers }, this.#url);
  }
}

