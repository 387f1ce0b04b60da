/**
 * The undici interceptor: for each request, decide whether the cache takes
 * part (with a named reason when it does not), then look it up and answer
 * (respond.ts). Requests it does not cache still get a Cache-Status, and a
 * successful unsafe request invalidates what the cache holds for its URL.
 */
import type { Dispatcher } from 'undici';
import { type RequestControl, recordingControl, resolveControl } from '../policy/control.js';
import { flattenHeaderPairs, headerValue, normalizeRequestHeaders, type RequestHeadersInput, type ResponseHeaders } from '../policy/headers.js';
import { analyzeRequest, type RequestAnalysis, SAFE_METHODS } from '../policy/request.js';
import { normalizeAbsoluteUrl, normalizeRequestUrl } from '../policy/url.js';
import { printable } from '../printable.js';
import { RecordingMissError, type ResolvedRecording } from '../recording.js';
import { type ForwardReason, formatCacheStatus } from './cache-status.js';
import { CachingHandler } from './caching-handler.js';
import type { CacheContext } from './context.js';
import { DispatcherOrigin } from './origin.js';
import { PassThroughHandler } from './pass-through-handler.js';
import { readRequestBody } from './request-body.js';
import { decide, type Exchange, respond, respondWith } from './respond.js';
import { WaitController } from './single-flight.js';
import { ownOptions, withQueryInPath } from './target.js';
import { undiciAdapter } from './undici/index.js';

type DispatchFn = Dispatcher.Dispatch;
type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

/** RFC 9110 §9.2.1: methods that do not change anything on the origin. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Marks the requests this cache forwards. The same cache composed twice on
 * one path (an agent with the interceptor, passed to `cache.fetch`, which
 * composes it again) would otherwise look each request up twice, and the
 * inner lookup would wait on the outer one's flight forever.
 */
const FORWARDED_BY = Symbol('cachette.forwardedBy');

/**
 * @param routesByOrigin the interceptor is for an Agent of the cache's own (`cache.dispatcher`), which sends each request where it names.
 */
export function createInterceptor(ctx: CacheContext, routesByOrigin = false): Dispatcher.DispatcherComposeInterceptor {
  if (ctx.options.disabled) {
    // Disabled (an option, or CACHETTE_DISABLED=1): no lookup, no storage I/O; the header says so.
    const member = formatCacheStatus({ fwd: 'bypass', detail: 'disabled' });
    return (next) => (opts, handler) => next(opts, new PassThroughHandler(undiciAdapter.modernHandler(handler), member));
  }
  const recording = ctx.options.recording;
  const recorded = recording === undefined ? undefined : recordingControl(recording.mode);
  // undici 8 passes the origin of a Client or Pool as a second argument (see origin.ts).
  return (network, composedOrigin?: unknown) => {
    // A replay never reaches the origin: whatever would go there is a request not in the recording.
    const next: DispatchFn = recording?.mode === 'replay' ? (opts, handler) => refuseReplay(ctx, opts, handler) : network;
    const origin = new DispatcherOrigin(composedOrigin, routesByOrigin);
    const dispatch: DispatchFn = (opts, handler) => {
      // Object.assign, not spread: cheaper on the dispatch options undici builds (a hit's cost: `npm run bench`).
      const marked = Object.assign({}, opts) as ControlledOptions & { [FORWARDED_BY]?: CacheContext };
      marked[FORWARDED_BY] = ctx;
      // The per-request options were this cache's to read: not for another cache further down.
      if (marked.cachette !== undefined) marked.cachette = undefined;
      if (!(handler instanceof CachingHandler) || marked.origin == null || origin.verdict(marked.origin) === 'own') return next(marked, handler);
      // Where requests naming this origin go is not known yet: a response from elsewhere, or from who knows where, is not stored.
      const { result, went } = origin.dispatchWatching(next, marked, handler);
      if (went !== 'own') handler.wentElsewhere(went === undefined ? 'origin-unverified' : 'origin-mismatch');
      return result;
    };
    return function cachetteDispatch(opts: Options, rawHandler: Handler): boolean {
      if ((opts as { [FORWARDED_BY]?: unknown })[FORWARDED_BY] === ctx) return next(opts, rawHandler);
      // Read before anything else: a bad per-request option is the caller's TypeError, before any I/O.
      let control = resolveControl((opts as ControlledOptions).cachette);
      if (recorded !== undefined) {
        // URLs the recording leaves alone go to the network as if there were no cache.
        if ((recording as ResolvedRecording).excluded(targetOf(opts))) return network(opts, rawHandler);
        control = recorded(control);
      }
      if (Array.isArray(opts.headers) && Array.isArray(opts.headers[0])) {
        const flat = flattenHeaderPairs(opts.headers);
        // Not pairs either: undici refuses them, and says why.
        if (flat === undefined) return next(opts, rawHandler);
        opts = Object.assign({}, opts, { headers: flat as string[] });
      }
      // The key reads the target the origin will get: undici's `query` joins the path here, as undici would join it.
      if (opts.query) {
        const folded = withQueryInPath(opts);
        if (folded === undefined) {
          // A path with its own query as well: undici refuses it, and says why.
          return bypass(ctx, dispatch, opts, undiciAdapter.modernHandler(rawHandler), {
            cacheable: false,
            reason: 'bad-url',
            method: opts.method,
            url: undefined,
            headers: undefined,
          });
        }
        opts = folded;
      }
      // An origin that is no URL (`localhost`, no scheme) names nothing: a Client or Pool sends to its own, as without one.
      if (opts.origin == null || opts.origin === '' || (typeof opts.origin === 'string' && !opts.origin.includes('://'))) {
        if (origin.known === undefined) return learnOrigin(ctx, origin, dispatch, opts, undiciAdapter.modernHandler(rawHandler), control);
        opts = Object.assign({}, opts, { origin: origin.known });
      } else if (origin.known !== undefined && opts.origin !== origin.known) {
        // A Client or Pool sends it to its own origin, whatever the request names: that is the resource it gets.
        opts = Object.assign({}, opts, { origin: origin.known });
      } else if (origin.known === undefined && origin.verdict(opts.origin) === 'elsewhere') {
        // Requests naming this origin were seen going elsewhere: nothing of the cache's is theirs.
        const reason = 'origin-mismatch';
        return bypass(ctx, dispatch, opts, undiciAdapter.modernHandler(rawHandler), {
          cacheable: false,
          reason,
          method: opts.method,
          url: undefined,
          headers: undefined,
        });
      }
      return handle(ctx, dispatch, opts, undiciAdapter.modernHandler(rawHandler), control);
    };
  };
}

/** Dispatch options with the per-request options of this cache (see policy/control.ts). */
type ControlledOptions = Options & { cachette?: unknown };

function handle(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, control: RequestControl): boolean {
  if (opts.upgrade || opts.method === 'CONNECT') return dispatch(opts, handler);

  const method = opts.method;
  if (!SAFE_METHODS.has(method) && ctx.options.methods.has(method) && control.mode !== 'no-store') {
    // A method cached on purpose (POST queries) is keyed by its body: read it first.
    keyByBody(ctx, dispatch, opts, handler, control).catch((error: unknown) => fail(handler, error));
    return true;
  }
  const analysis = analyzeRequest(opts, ctx.options, ctx.keys, undefined, control);
  if (!analysis.cacheable) return bypass(ctx, dispatch, opts, handler, analysis);
  // Storage in memory answers at once: a hit is served before dispatch returns.
  const found = ctx.records.findSync(analysis.request);
  // A lookup that answers later: what is sent after it is a copy of the options as they are now (target.ts).
  const exchange: Exchange = { ctx, dispatch, opts: found === undefined ? ownOptions(opts) : opts, handler, request: analysis.request };
  const answered = found === undefined ? respond(exchange) : respondWith(exchange, found);
  answered?.catch((error: unknown) => fail(handler, error));
  return true;
}

/**
 * A request dispatched without an origin, on a dispatcher whose origin is not
 * known yet: forwarded while undici says where it goes, and stored (it could
 * not be looked up).
 */
function learnOrigin(ctx: CacheContext, origin: DispatcherOrigin, dispatch: DispatchFn, opts: Options, handler: Handler, control: RequestControl): boolean {
  return origin.dispatchLearning(dispatch, opts, (learned) => {
    const method = opts.method;
    if (learned === undefined) return bypassHandler(ctx, opts, handler, { cacheable: false, reason: 'no-origin', method, url: undefined, headers: undefined });
    const located = Object.assign({}, opts, { origin: learned });
    // A method keyed by its body, or the client's own conditional or range request: simply forwarded, this once.
    const analysis: RequestAnalysis =
      SAFE_METHODS.has(method) || !ctx.options.methods.has(method)
        ? analyzeRequest(located, ctx.options, ctx.keys, undefined, control)
        : { cacheable: false, reason: 'no-origin', method, url: undefined, headers: undefined };
    if (!analysis.cacheable) return bypassHandler(ctx, located, handler, analysis);
    if (analysis.request.conditional || analysis.request.range !== undefined) {
      return bypassHandler(ctx, located, handler, { cacheable: false, reason: 'no-origin', method, url: undefined, headers: undefined });
    }
    decide(ctx, analysis.request, 'forward', 'origin-learned');
    return new CachingHandler(ctx, analysis.request, handler, { fwd: 'miss' });
  });
}

async function keyByBody(ctx: CacheContext, dispatch: DispatchFn, caller: Options, handler: Handler, control: RequestControl): Promise<void> {
  // Copied before the body is read: the caller may reuse its options or headers object meanwhile (target.ts).
  const opts = ownOptions(caller);
  const read = await readRequestBody(opts.body);
  if ('unsupported' in read) {
    // Forwarded as it came, or, when part of a stream was read, with that part put back in front of the rest.
    const forwarded: Options = read.body === opts.body ? opts : { ...opts, body: read.body as Options['body'] };
    bypass(ctx, dispatch, forwarded, handler, { cacheable: false, reason: read.unsupported, method: opts.method, url: undefined, headers: undefined });
    return;
  }
  // The body was consumed: the origin gets the bytes that were read.
  const forwarded: Options = { ...opts, body: read.bytes as Buffer };
  const analysis = analyzeRequest(forwarded, ctx.options, ctx.keys, read.bytes, control);
  if (!analysis.cacheable) {
    bypass(ctx, dispatch, forwarded, handler, analysis);
    return;
  }
  await respond({ ctx, dispatch, opts: forwarded, handler, request: analysis.request });
}

function bypass(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, analysis: Extract<RequestAnalysis, { cacheable: false }>): boolean {
  return dispatch(opts, bypassHandler(ctx, opts, handler, analysis));
}

/** The handler of a request the cache does not take part in: our Cache-Status, and invalidation after an unsafe method. */
function bypassHandler(ctx: CacheContext, opts: Options, handler: Handler, analysis: Extract<RequestAnalysis, { cacheable: false }>): Handler {
  const fwd: ForwardReason = analysis.reason === 'method' ? 'method' : analysis.reason === 'request-no-store' ? 'request' : 'bypass';
  ctx.reporter.stats.bypass(analysis.reason);
  if (ctx.reporter.wantsDecisions) {
    ctx.reporter.decision({ outcome: 'bypass', reason: analysis.reason, method: analysis.method, url: analysis.url });
  }
  const member = formatCacheStatus({ fwd, detail: analysis.reason === 'method' ? undefined : analysis.reason });
  // A recording keeps what it holds: a request it does not record invalidates nothing.
  const onResponse =
    SAFE.has(analysis.method) || ctx.options.methods.has(analysis.method) || ctx.options.recording !== undefined
      ? undefined
      : (status: number, headers: ResponseHeaders) => invalidateAfterUnsafe(ctx, opts, status, headers);
  return new PassThroughHandler(handler, member, onResponse);
}

/**
 * RFC 9111 §4.4: a non-error response to an unsafe request invalidates the
 * target URI and the same-origin Location and Content-Location.
 */
function invalidateAfterUnsafe(ctx: CacheContext, opts: Options, status: number, responseHeaders: ResponseHeaders): void {
  if (status < 200 || status >= 400) return;
  const headers = normalizeRequestHeaders(opts.headers as RequestHeadersInput);
  let target: ReturnType<typeof normalizeRequestUrl>;
  let base: URL;
  try {
    target = normalizeRequestUrl(opts.origin ?? '', opts.path, ctx.options.urls, ctx.keys.canonicalOrigin, headers['host']);
    base = new URL(target.keyUrl);
  } catch {
    return; // not a request for a resource of the origin's (undici refuses most such)
  }
  const keys = new Set([ctx.keys.keyFor({ method: 'GET', url: target.keyUrl, headers })]);
  for (const name of ['location', 'content-location']) {
    const value = headerValue(responseHeaders, name);
    if (value === undefined) continue;
    try {
      const url = new URL(value, base);
      if (url.origin === base.origin) keys.add(ctx.keys.keyFor({ method: 'GET', url: normalizeAbsoluteUrl(url, ctx.options.urls).keyUrl, headers }));
    } catch {
      // Not a URL: nothing to invalidate.
    }
  }
  // Requests made from now on are answered by the origin anew, and a response to one sent before is not stored.
  ctx.flights.invalidate(keys);
  ctx.records.invalidate([...keys]);
  if (ctx.reporter.wantsDecisions) {
    ctx.reporter.decision({ outcome: 'invalidate', reason: 'unsafe-method', method: opts.method, url: target.storedUrl });
  }
}

/** The request's URL as undici will send it (origin and path), for the recording's exclusions. */
function targetOf(opts: Options): string {
  const origin = opts.origin;
  const text = origin === undefined || origin === null ? '' : typeof origin === 'string' ? origin : origin.origin;
  return `${text.endsWith('/') ? text.slice(0, -1) : text}${opts.path}`;
}

/** A request a replay would have sent to the origin: it fails, naming itself (its URL redacted as every URL that leaves the cache). */
function refuseReplay(ctx: CacheContext, opts: Options, handler: Handler): boolean {
  const error = new RecordingMissError(opts.method, printable(ctx.reporter.shown(targetOf(opts))));
  ctx.reporter.stats.recordingMiss();
  queueMicrotask(() => fail(handler, error));
  return true;
}

/** A bug of ours before any response: the caller gets it as an error (on a controller that is already done). */
function fail(handler: Handler, error: unknown): void {
  const failure = error instanceof Error ? error : new Error(String(error));
  const controller = new WaitController();
  controller.abort(failure);
  handler.onResponseError?.(controller, failure);
}
