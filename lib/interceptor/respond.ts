/**
 * Answering one cacheable request: look it up, then serve it (fresh, or
 * stale where allowed), revalidate it, or fetch it — collapsed with
 * identical requests already under way.
 */
import type { Dispatcher } from 'undici';
import { delay } from '../clock.js';
import type { DecisionOutcome } from '../diagnostics.js';
import { evaluateConditional, NOT_MODIFIED_FIELDS } from '../policy/conditional.js';
import { fieldMap, pairValue, type ResponseHeaders } from '../policy/headers.js';
import { parseHttpDate } from '../policy/http-date.js';
import { type ByteRange, resolveRange } from '../policy/range.js';
import type { CacheRequest } from '../policy/request.js';
import { mayServeOnError, type Reuse, reuseDecision } from '../policy/reuse.js';
import type { StoredResponse } from '../records/model.js';
import type { Lookup } from '../records/store.js';
import { namesOf, sameVaryPairs } from '../records/variants.js';
import { formatCacheStatus, withCacheStatus } from './cache-status.js';
import { CachingHandler, type ForwardInfo, type StaleEntry } from './caching-handler.js';
import type { CacheContext } from './context.js';
import { replay } from './replay.js';
import { ageField, storedHeaders } from './served.js';
import { type Flight, type SharedResponse, WaitController } from './single-flight.js';
import { withinDeadline } from './work-deadline.js';

type DispatchFn = Dispatcher.Dispatch;
type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

/** Followers whose leader gave up start over; this bounds how often. */
const MAX_RESTARTS = 3;

export async function respond(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest, restarts = 0): Promise<void> {
  let found: Lookup;
  try {
    found = await ctx.records.find(request);
  } catch (error) {
    // Lookup is fail-open by construction; should a bug of ours throw anyway, the origin still answers.
    ctx.reporter.storageError({ operation: 'lookup', partition: ctx.records.name, error });
    found = { found: false, fwd: 'uri-miss', variants: undefined };
  }
  return respondWith(ctx, dispatch, opts, handler, request, found, restarts);
}

/** Decides with the lookup in hand: synchronous, unless the request waits for an identical one under way. */
export function respondWith(
  ctx: CacheContext,
  dispatch: DispatchFn,
  opts: Options,
  handler: Handler,
  request: CacheRequest,
  found: Lookup,
  restarts = 0,
): void | Promise<void> {
  if (request.conditional) return answerConditional(ctx, dispatch, opts, handler, request, found);
  if (request.range !== undefined) return answerRange(ctx, dispatch, opts, handler, request, found);

  if (!found.found) {
    decide(ctx, request, 'miss', found.fwd);
    if (onlyFromCache(request)) return gatewayTimeout(handler);
    return forward(ctx, dispatch, opts, handler, request, { fwd: found.fwd, variants: found.variants }, restarts);
  }
  if (request.control.mode === 'reload') {
    // Fetch's reload mode: an unconditional request, whose response replaces the stored one.
    decide(ctx, request, 'forward', 'reload');
    return forward(ctx, dispatch, opts, handler, request, { fwd: 'request', variants: found.variants }, restarts);
  }

  const entry = found.entry;
  const now = ctx.clock.now();
  const reuse = reuseFor(ctx, request, entry, now);
  decide(ctx, request, reuse.action === 'serve' ? 'hit' : 'revalidate', reuse.reason);
  if (reuse.action === 'serve') {
    serveEntry(ctx, handler, request, entry, reuse);
    if (reuse.refresh) refreshInBackground(ctx, dispatch, opts, request, found);
    return;
  }
  // RFC 9111 §5.2.1.7: only-if-cached gets a stored response consistent with the request, or a 504.
  if (request.directives.onlyIfCached === true) return gatewayTimeout(handler);
  const stale: StaleEntry = {
    entry,
    key: found.key,
    conditional: hasValidator(entry),
    fallbackOnError: mayServeOnError(entry, request.directives, ctx.options, now, request.control.staleIfError),
  };
  const fwd = reuse.reason === 'stale' || reuse.reason === 'no-cache' ? 'stale' : 'request';
  return forward(ctx, dispatch, opts, handler, request, { fwd, variants: found.variants, stale }, restarts);
}

/**
 * The client's own conditional request: answered from a fresh stored response
 * when the cache can evaluate it (RFC 9111 §4.3.2), otherwise forwarded
 * untouched — its 304 reaches the client as is, and a full response is stored.
 */
function answerConditional(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest, found: Lookup): void {
  if (found.found && request.control.mode !== 'reload') {
    const reuse = reuseFor(ctx, request, found.entry, ctx.clock.now());
    const outcome =
      reuse.action === 'serve' && !reuse.refresh ? evaluateConditional(request.headers, found.entry.headers, found.entry.responseTime) : 'forward';
    if (reuse.action === 'serve' && outcome === 'full') {
      decide(ctx, request, 'hit', 'condition-false');
      serveEntry(ctx, handler, request, found.entry, reuse);
      return;
    }
    if (reuse.action === 'serve' && outcome === 'not-modified') {
      decide(ctx, request, 'hit', 'not-modified');
      serveNotModified(handler, found.entry, reuse);
      return;
    }
  }
  if (onlyFromCache(request)) {
    gatewayTimeout(handler);
    return;
  }
  decide(ctx, request, 'forward', 'conditional');
  dispatch(opts, new CachingHandler(ctx, request, handler, { fwd: 'request' }));
}

/**
 * A byte range (RFC 9110 §14): cut from a complete, fresh stored 200; otherwise
 * the request goes to the origin as it is (a 206 is never stored; a full 200
 * the origin may send instead is).
 */
function answerRange(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest, found: Lookup): void {
  const range = request.range as ByteRange;
  if (found.found && found.entry.status === 200 && request.control.mode !== 'reload') {
    const reuse = reuseFor(ctx, request, found.entry, ctx.clock.now());
    if (reuse.action === 'serve' && !reuse.refresh) {
      decide(ctx, request, 'hit', 'range');
      serveRange(ctx, handler, found.entry, reuse, resolveRange(range, found.entry.body.byteLength));
      return;
    }
  }
  if (onlyFromCache(request)) {
    gatewayTimeout(handler);
    return;
  }
  decide(ctx, request, 'forward', 'range');
  dispatch(opts, new CachingHandler(ctx, request, handler, { fwd: found.found ? 'stale' : found.fwd, variants: found.variants }));
}

/**
 * Forwards to the origin, or waits for an identical request already on its
 * way there — unless this one asks for a response fetched after it was made (reload).
 */
async function forward(
  ctx: CacheContext,
  dispatch: DispatchFn,
  opts: Options,
  handler: Handler,
  request: CacheRequest,
  info: ForwardInfo,
  restarts: number,
): Promise<void> {
  const reload = request.control.mode === 'reload';
  const current = reload ? undefined : ctx.flights.current(request.key);
  if (current !== undefined) {
    const waited = await current.follow(handler);
    if (waited === undefined) return; // the caller aborted while waiting
    const { outcome } = waited;
    switch (outcome.kind) {
      case 'response':
        if (usableByFollower(ctx, request, outcome.response)) return serveShared(ctx, handler, request, outcome.response);
        break; // it varies on a header this request has differently: go on as usual
      case 'failed':
        handler.onResponseError?.(waited.controller, outcome.error);
        return;
      case 'solo':
        forwardTo(ctx, dispatch, opts, handler, request, info);
        return;
      case 'done':
        break; // cannot happen to a follower (it was waiting); start over
      case 'abandoned':
        break;
    }
    if (restarts < MAX_RESTARTS) return respond(ctx, dispatch, opts, handler, request, restarts + 1);
  }
  // A HEAD answers no GET: it forwards alone and leads nobody.
  const flight = request.method === 'HEAD' ? undefined : ctx.flights.start(request.key);
  const crossInstance = ctx.options.crossInstance;
  try {
    const limits = crossInstance === undefined ? undefined : withinDeadline(crossInstance, ctx.options.deadline, ctx.clock.now());
    // With no time left before the deadline (a Lambda invocation's end), no lease: it would outlive it.
    if (limits !== undefined && limits.leaseMs > 0 && flight !== undefined && info.stale === undefined && !reload && ctx.records.offersLeases) {
      return await leadAcrossInstances(ctx, dispatch, opts, handler, request, withFlight(info, flight, info.retryUnconditionally), limits);
    }
    forwardTo(ctx, dispatch, opts, handler, request, withFlight(info, flight, info.retryUnconditionally));
  } catch (error) {
    // The dispatch threw before any response: identical requests waiting on this one start over.
    flight?.settle({ kind: 'abandoned' });
    throw error;
  }
}

/** How often a process waiting for another's fetch looks for the result. */
const POLL_MS = 100;

/**
 * Collapsing misses across processes sharing one storage: take the key's
 * lease and fetch (releasing it once the response is stored), or, when
 * another process holds it, wait — looking for its result — until the entry
 * appears, the lease runs out (its holder crashed: take it over), or `wait`
 * is over (then fetch anyway).
 */
async function leadAcrossInstances(
  ctx: CacheContext,
  dispatch: DispatchFn,
  opts: Options,
  handler: Handler,
  request: CacheRequest,
  info: ForwardInfo,
  limits: { leaseMs: number; waitMs: number },
): Promise<void> {
  const deadline = ctx.clock.now() + limits.waitMs;
  let waiting: WaitController | undefined;
  for (;;) {
    const attempt = await ctx.records.acquireLease(request.key, limits.leaseMs);
    if (attempt === undefined || 'token' in attempt || ctx.clock.now() >= deadline || waiting?.aborted === true) {
      if (waiting?.aborted === true) {
        info.flight?.settle({ kind: 'abandoned' });
        return;
      }
      const token = attempt !== undefined && 'token' in attempt ? attempt.token : undefined;
      endWait(waiting);
      decide(ctx, request, 'forward', token === undefined ? 'no-lease' : 'lease');
      const release = token === undefined ? undefined : (landed: Promise<void> | undefined) => ctx.records.releaseLeaseAfter(landed, request.key, token);
      forwardTo(ctx, dispatch, opts, handler, request, { ...info, onFinished: release });
      return;
    }
    // Another process is fetching: let the caller abort the wait, and look for its result until the lease runs out.
    if (waiting === undefined) {
      const controller = new WaitController();
      controller.onAbort = (reason) => handler.onResponseError?.(controller, reason);
      waiting = controller;
      handler.onRequestStart?.(controller, {});
      decide(ctx, request, 'wait', 'leased-elsewhere');
    }
    const until = Math.min(deadline, attempt.heldUntil);
    while (ctx.clock.now() < until && !waiting.aborted) {
      await delay(ctx.clock, Math.min(POLL_MS, Math.max(1, until - ctx.clock.now())));
      let found: Lookup;
      try {
        found = await ctx.records.find(request);
      } catch {
        continue;
      }
      if (!found.found || waiting.aborted) continue;
      const reuse = reuseDecision(found.entry, request.directives, ctx.options, ctx.clock.now());
      if (reuse.action !== 'serve') continue;
      endWait(waiting);
      decide(ctx, request, 'hit', 'collapsed-across-instances');
      // Local followers start over and find it too.
      info.flight?.settle({ kind: 'abandoned' });
      serveEntry(ctx, handler, request, found.entry, reuse);
      return;
    }
    if (waiting.aborted) {
      info.flight?.settle({ kind: 'abandoned' });
      return;
    }
  }
}

/** The wait is over: the caller's handler now answers to the controller of what comes next. */
function endWait(waiting: WaitController | undefined): void {
  if (waiting !== undefined) waiting.onAbort = undefined;
}

/** RFC 5861 §3: the stale entry was served; refresh it once, in the background. */
function refreshInBackground(ctx: CacheContext, dispatch: DispatchFn, opts: Options, request: CacheRequest, found: Extract<Lookup, { found: true }>): void {
  if (ctx.flights.current(request.key) !== undefined) return; // a refresh (or a fetch) is already under way
  const flight = ctx.flights.start(request.key);
  // No flight: this key's last response could not be shared, and for a moment its requests go alone; a refresh waits.
  if (flight === undefined) return;
  // The entry a HEAD was served from is a GET's: it is refreshed by a GET, whose body followers may share.
  const refresh: CacheRequest = request.method === 'HEAD' ? { ...request, method: 'GET' } : request;
  const stale: StaleEntry = { entry: found.entry, key: found.key, conditional: hasValidator(found.entry), fallbackOnError: false };
  const background: Options = { ...opts, method: 'GET', body: null };
  ctx.reporter.stats.revalidations += 1;
  // settled() waits for it: until its response is stored (or not), then for that write.
  let finished: () => void = () => undefined;
  ctx.background.track(new Promise<void>((resolve) => (finished = resolve)));
  const onFinished = (): void => finished();
  try {
    forwardTo(ctx, dispatch, background, BACKGROUND, refresh, { fwd: 'stale', variants: found.variants, stale, flight, background: true, onFinished });
  } catch (error) {
    finished();
    flight.settle({ kind: 'abandoned' });
    ctx.reporter.storageError({ operation: 'refresh', partition: ctx.records.name, error });
  }
}

/** A background refresh has no caller: its response is only stored. */
const BACKGROUND: Handler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
};

/**
 * Sends the request to the origin, with the stored validators when
 * revalidating; should the origin answer them with a 304 for another
 * representation, the request goes again without them.
 */
function forwardTo(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest, info: ForwardInfo): void {
  const stale = info.stale;
  const retryUnconditionally = stale?.conditional
    ? () => forwardTo(ctx, dispatch, opts, handler, request, { ...info, stale: { ...stale, conditional: false } })
    : undefined;
  dispatch(withValidators(opts, request, stale), new CachingHandler(ctx, request, handler, withFlight(info, info.flight, retryUnconditionally)));
}

/** `info` with this flight and retry (built field by field: a spread of these objects is slow in V8). */
function withFlight(info: ForwardInfo, flight: Flight | undefined, retryUnconditionally: (() => void) | undefined): ForwardInfo {
  return { fwd: info.fwd, variants: info.variants, stale: info.stale, background: info.background, flight, onFinished: info.onFinished, retryUnconditionally };
}

/** Adds the stored validators (RFC 9111 §4.3.1) when revalidating an entry that has them. */
function withValidators(opts: Options, request: CacheRequest, stale: StaleEntry | undefined): Options {
  if (stale === undefined || !stale.conditional) return opts;
  const headers: Record<string, string> = Object.assign(fieldMap<string>(), request.headers);
  const etag = pairValue(stale.entry.headers, 'etag');
  const since = modifiedSince(stale.entry);
  if (etag !== undefined) headers['if-none-match'] = etag;
  if (since !== undefined) headers['if-modified-since'] = since;
  return { ...opts, headers };
}

/**
 * The If-Modified-Since of a revalidation: the stored Last-Modified, or else
 * the stored Date, as RFC 9110 §13.1.3 lets a cache do for a response
 * without Last-Modified. Both are the origin's clock, as the origin reads the
 * field; never this process's clock, which may run ahead of the origin's and
 * have it answer 304 for a change it made after the response was sent.
 */
function modifiedSince(entry: StoredResponse): string | undefined {
  const lastModified = pairValue(entry.headers, 'last-modified');
  if (lastModified !== undefined) return lastModified;
  const date = parseHttpDate(pairValue(entry.headers, 'date'));
  return date === undefined ? undefined : new Date(date).toUTCString();
}

/**
 * Whether a stored response may answer: RFC 9111's rules, except under fetch's
 * force-cache and only-if-cached modes, which take any stored response however
 * stale, and never contact the origin for it.
 */
function reuseFor(ctx: CacheContext, request: CacheRequest, entry: StoredResponse, now: number): Reuse {
  const reuse = reuseDecision(entry, request.directives, ctx.options, now);
  const mode = request.control.mode;
  if (mode !== 'force-cache' && mode !== 'only-if-cached') return reuse;
  if (reuse.action === 'serve' && !reuse.refresh) return reuse;
  return { action: 'serve', reason: reuse.action === 'serve' ? reuse.reason : mode, refresh: false, ageMs: reuse.ageMs, ttl: reuse.ttl };
}

/** The request may only be answered from the cache: a 504 when it cannot be. */
function onlyFromCache(request: CacheRequest): boolean {
  return request.directives.onlyIfCached === true || request.control.mode === 'only-if-cached';
}

/** Whether a revalidation of the entry can be conditional: it has an ETag, a Last-Modified or a Date. */
function hasValidator(entry: StoredResponse): boolean {
  return pairValue(entry.headers, 'etag') !== undefined || modifiedSince(entry) !== undefined;
}

/** Replays a stored response with its current Age and our Cache-Status. */
function serveEntry(ctx: CacheContext, handler: Handler, request: CacheRequest, entry: StoredResponse, reuse: Extract<Reuse, { action: 'serve' }>): void {
  const detail = reuse.reason === 'fresh' ? undefined : reuse.reason;
  const { headers, rawHeaders } = ctx.hitHeaders.served(entry, reuse.ageMs, reuse.ttl, detail);
  const stats = ctx.reporter.stats;
  if (reuse.ttl <= 0) stats.staleServed += 1;
  if (request.method !== 'HEAD') stats.bytesServed += entry.body.byteLength;
  replay(handler, {
    status: entry.status,
    statusText: entry.statusText,
    headers,
    rawHeaders,
    body: request.method === 'HEAD' ? undefined : entry.body,
  });
}

function serveRange(
  ctx: CacheContext,
  handler: Handler,
  entry: StoredResponse,
  reuse: Extract<Reuse, { action: 'serve' }>,
  bytes: [number, number] | undefined,
): void {
  const total = entry.body.byteLength;
  const cacheStatus = formatCacheStatus({ hit: true, ttl: reuse.ttl });
  if (bytes === undefined) {
    // RFC 9110 §15.5.17: nothing of the range exists.
    const headers: ResponseHeaders = { 'content-range': `bytes */${total}`, 'content-length': '0' };
    replay(handler, { status: 416, statusText: 'Range Not Satisfiable', headers: withCacheStatus(headers, cacheStatus) });
    return;
  }
  const [first, last] = bytes;
  ctx.reporter.stats.bytesServed += last - first + 1;
  const headers = storedHeaders(entry);
  headers['age'] = ageField(reuse.ageMs);
  headers['content-range'] = `bytes ${first}-${last}/${total}`;
  headers['content-length'] = String(last - first + 1);
  replay(handler, {
    status: 206,
    statusText: 'Partial Content',
    headers: withCacheStatus(headers, cacheStatus),
    body: entry.body.subarray(first, last + 1),
  });
}

function serveNotModified(handler: Handler, entry: StoredResponse, reuse: Extract<Reuse, { action: 'serve' }>): void {
  const hasEtag = pairValue(entry.headers, 'etag') !== undefined;
  // RFC 9110 §15.4.5; Last-Modified too when there is no ETag, to guide the client's cache.
  const headers = storedHeaders(entry, (name) => !(NOT_MODIFIED_FIELDS.has(name) || (!hasEtag && name === 'last-modified')));
  headers['age'] = ageField(reuse.ageMs);
  replay(handler, {
    status: 304,
    statusText: 'Not Modified',
    headers: withCacheStatus(headers, formatCacheStatus({ hit: true, ttl: reuse.ttl, detail: 'not-modified' })),
  });
}

function serveShared(ctx: CacheContext, handler: Handler, request: CacheRequest, shared: SharedResponse): void {
  ctx.reporter.stats.collapsed += 1;
  replay(handler, {
    status: shared.status,
    statusText: shared.statusText,
    headers: withCacheStatus(shared.headers, formatCacheStatus({ ...shared.cacheStatus, collapsed: true })),
    body: request.method === 'HEAD' ? undefined : shared.body,
  });
}

function usableByFollower(ctx: CacheContext, request: CacheRequest, shared: SharedResponse): boolean {
  if (shared.vary === undefined) return true;
  return sameVaryPairs(shared.vary, ctx.records.varyPairs(namesOf(shared.vary), request.headers));
}

function gatewayTimeout(handler: Handler): void {
  const headers: ResponseHeaders = { 'content-length': '0' };
  replay(handler, { status: 504, statusText: 'Gateway Timeout', headers: withCacheStatus(headers, formatCacheStatus({ detail: 'only-if-cached' })) });
}

export function decide(ctx: CacheContext, request: CacheRequest, outcome: DecisionOutcome, reason: string): void {
  const stats = ctx.reporter.stats;
  if (outcome === 'hit') stats.hits += 1;
  else if (outcome === 'miss') stats.misses += 1;
  else if (outcome === 'revalidate') stats.revalidations += 1;
  // Sent on whatever is stored (fetch's reload, a client's own conditional, a range): the origin answers in full.
  else if (outcome === 'forward' && (reason === 'reload' || reason === 'conditional' || reason === 'range')) stats.misses += 1;
  if (ctx.reporter.wantsDecisions) {
    ctx.reporter.decision({ outcome, reason, method: request.method, url: request.url.storedUrl, key: request.key });
  }
}
