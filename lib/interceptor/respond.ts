/**
 * Answering one cacheable request: look it up, then serve it (fresh, or
 * stale where allowed), revalidate it, or fetch it — collapsed with
 * identical requests already under way.
 */
import type { Dispatcher } from 'undici';
import { delay } from '../clock.js';
import type { DecisionOutcome } from '../diagnostics.js';
import { NOT_MODIFIED_FIELDS } from '../policy/conditional.js';
import { NO_CONTROL } from '../policy/control.js';
import { fieldMap, pairValue, type ResponseHeaders } from '../policy/headers.js';
import { hasValidator, modifiedSince, planRequest, type ServeReuse } from '../policy/plan.js';
import { analyzeRequest, type CacheRequest } from '../policy/request.js';
import { reuseDecision } from '../policy/reuse.js';
import type { StoredResponse } from '../records/model.js';
import type { Lookup } from '../records/store.js';
import { namesOf, sameVaryPairs } from '../records/variants.js';
import { formatCacheStatus, withCacheStatus } from './cache-status.js';
import { CachingHandler, type ForwardInfo, type StaleEntry } from './caching-handler.js';
import type { CacheContext } from './context.js';
import { type ReplayResponse, replay } from './replay.js';
import { ageField, storedHeaders } from './served.js';
import { type Flight, type SharedResponse, WaitController } from './single-flight.js';
import { ownOptions } from './target.js';
import { withinDeadline } from './work-deadline.js';

type DispatchFn = Dispatcher.Dispatch;
type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

/** What the steps of one request share: the cache, where it goes, what it asks, who gets the answer. */
export interface Exchange {
  readonly ctx: CacheContext;
  readonly dispatch: DispatchFn;
  readonly opts: Options;
  readonly handler: Handler;
  readonly request: CacheRequest;
}

/** Followers whose leader gave up start over; this bounds how often. */
const MAX_RESTARTS = 3;

export async function respond(x: Exchange, restarts = 0): Promise<void> {
  let found: Lookup;
  try {
    found = await x.ctx.records.find(x.request);
  } catch (error) {
    // Lookup is fail-open by construction; should a bug of ours throw anyway, the origin still answers.
    x.ctx.reporter.storageError({ operation: 'lookup', partition: x.ctx.records.name, error });
    found = { found: false, fwd: 'uri-miss', variants: undefined };
  }
  return respondWith(x, found, restarts);
}

/**
 * Carries out the plan for the lookup in hand (policy/plan.ts): synchronous,
 * unless the request waits for an identical one under way. The plan's
 * decision is published and counted here, once.
 */
export function respondWith(exchange: Exchange, found: Lookup, restarts = 0): void | Promise<void> {
  const { ctx, request, handler } = exchange;
  const plan = planRequest(request, found, ctx.options, ctx.clock.now());
  if (plan.outcome !== undefined) decide(ctx, request, plan.outcome, plan.reason as string);
  // Whatever may be sent after a wait (an identical request under way, a lease, a background refresh) is a copy of
  // the options as they are now: the caller may reuse its options or headers object meanwhile (target.ts).
  const x = plan.step === 'forward' || plan.step === 'revalidate' || (plan.step === 'serve' && plan.refresh) ? withOwnOptions(exchange) : exchange;
  switch (plan.step) {
    case 'serve':
      if (plan.form === 'not-modified') serveNotModified(handler, plan.entry, plan.reuse);
      else if (plan.form === 'range') serveRange(x, plan.entry, plan.reuse, plan.bytes);
      else serveEntry(x, plan.entry, plan.reuse);
      if (plan.refresh && found.found) refreshInBackground(x, found, plan.reason === 'refresh-ahead');
      return;
    case 'refuse':
      return gatewayTimeout(handler);
    case 'forward': {
      const variants = plan.withVariants ? found.variants : undefined;
      if (plan.alone) {
        x.dispatch(x.opts, new CachingHandler(ctx, request, handler, { fwd: plan.fwd, variants }));
        return;
      }
      return forward(x, { fwd: plan.fwd, variants }, restarts);
    }
    case 'revalidate': {
      const stale: StaleEntry = {
        entry: plan.entry,
        key: (found as Extract<Lookup, { found: true }>).key,
        conditional: plan.conditional,
        fallbackOnError: plan.fallbackOnError,
      };
      return forward(x, { fwd: plan.fwd, variants: found.variants, stale }, restarts);
    }
  }
}

function withOwnOptions(x: Exchange): Exchange {
  const opts = ownOptions(x.opts);
  return opts === x.opts ? x : { ctx: x.ctx, dispatch: x.dispatch, opts, handler: x.handler, request: x.request };
}

/**
 * Forwards to the origin, or waits for an identical request already on its
 * way there — unless this one asks for a response fetched after it was made
 * (reload). Synchronous unless it waits: most misses lead, and an async
 * function's promise and state on each was measurable.
 */
function forward(x: Exchange, info: ForwardInfo, restarts: number): void | Promise<void> {
  const current = x.request.control.mode === 'reload' ? undefined : x.ctx.flights.current(x.request.key);
  return current === undefined ? lead(x, info) : follow(x, info, restarts, current);
}

/** Waits for the identical request under way, then serves what it got, or starts over. */
async function follow(x: Exchange, info: ForwardInfo, restarts: number, current: Flight): Promise<void> {
  const waited = await current.follow(x.handler);
  if (waited === undefined) return; // the caller aborted while waiting
  const { outcome } = waited;
  switch (outcome.kind) {
    case 'response':
      if (usableByFollower(x, outcome.response)) return serveShared(x, outcome.response);
      break; // it varies on a header this request has differently: go on as usual
    case 'failed':
      x.handler.onResponseError?.(waited.controller, outcome.error);
      return;
    case 'solo':
      forwardTo(x, info);
      return;
    case 'done':
      break; // cannot happen to a follower (it was waiting); start over
    case 'abandoned':
      break;
  }
  if (restarts < MAX_RESTARTS) return respond(x, restarts + 1);
  return lead(x, info);
}

/** Goes to the origin, leading identical requests (and, with crossInstance, those of other processes). */
function lead(x: Exchange, info: ForwardInfo): void | Promise<void> {
  const { ctx, request } = x;
  // A HEAD answers no GET: it forwards alone and leads nobody.
  const flight = request.method === 'HEAD' ? undefined : ctx.flights.start(request.key);
  const crossInstance = ctx.options.crossInstance;
  try {
    const limits = crossInstance === undefined ? undefined : withinDeadline(crossInstance, ctx.options.deadline, ctx.clock.now());
    // With no time left before the deadline (a Lambda invocation's end), no lease: it would outlive it.
    if (
      limits !== undefined &&
      limits.leaseMs > 0 &&
      flight !== undefined &&
      info.stale === undefined &&
      request.control.mode !== 'reload' &&
      ctx.records.offersLeases
    ) {
      return leadAcrossInstances(x, withFlight(info, flight, info.retryUnconditionally), limits).catch((error: unknown) => {
        flight.settle({ kind: 'abandoned' });
        throw error;
      });
    }
    forwardTo(x, withFlight(info, flight, info.retryUnconditionally));
  } catch (error) {
    // The dispatch threw before any response: identical requests waiting on this one start over.
    flight?.settle({ kind: 'abandoned' });
    return Promise.reject(error);
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
async function leadAcrossInstances(x: Exchange, info: ForwardInfo, limits: { leaseMs: number; waitMs: number }): Promise<void> {
  const { ctx, handler, request } = x;
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
      forwardTo(x, { ...info, onFinished: release });
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
      serveEntry(x, found.entry, reuse);
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

/**
 * RFC 5861 §3: the stale entry was served; refresh it once, in the background.
 * Or (`ahead`, refreshAhead) the fresh entry was served near its expiry:
 * refresh it before it expires — once per process, and, with
 * `coalesceAcrossInstances` on a storage offering leases, once across
 * processes (the one holding the key's lease refreshes; the others do not).
 */
function refreshInBackground(x: Exchange, found: Extract<Lookup, { found: true }>, ahead: boolean): void {
  const { ctx, request } = x;
  if (ctx.flights.current(request.key) !== undefined) return; // a refresh (or a fetch) is already under way
  const flight = ctx.flights.start(request.key);
  // No flight: this key's last response could not be shared, and for a moment its requests go alone; a refresh waits.
  if (flight === undefined) return;
  // settled() waits for it: until its response is stored (or not), then for that write.
  let finished: () => void = () => undefined;
  ctx.background.track(new Promise<void>((resolve) => (finished = resolve)));
  const crossInstance = ctx.options.crossInstance;
  if (!ahead || crossInstance === undefined || !ctx.records.offersLeases) {
    startRefresh(x, found, flight, ahead, () => finished());
    return;
  }
  const { leaseMs } = withinDeadline(crossInstance, ctx.options.deadline, ctx.clock.now());
  // No time left before the deadline (a Lambda invocation's end) for a lease: the refresh is left to a later request.
  if (leaseMs <= 0) {
    flight.settle({ kind: 'abandoned' });
    finished();
    return;
  }
  ctx.records.acquireLease(request.key, leaseMs).then(
    (attempt) => {
      if (attempt === undefined || !('token' in attempt)) {
        // Another process is refreshing it (or the storage could not say): this one does not.
        flight.settle({ kind: 'abandoned' });
        finished();
        return;
      }
      startRefresh(x, found, flight, ahead, (landed) => {
        ctx.records.releaseLeaseAfter(landed, request.key, attempt.token);
        finished();
      });
    },
    () => {
      flight.settle({ kind: 'abandoned' });
      finished();
    },
  );
}

function startRefresh(
  x: Exchange,
  found: Extract<Lookup, { found: true }>,
  flight: Flight,
  ahead: boolean,
  onFinished: (landed: Promise<void> | undefined) => void,
): void {
  const { ctx, request } = x;
  // The entry a HEAD was served from is a GET's: it is refreshed by a GET, whose body followers may share.
  const refresh: CacheRequest = request.method === 'HEAD' ? { ...request, method: 'GET' } : request;
  const stale: StaleEntry = { entry: found.entry, key: found.key, conditional: hasValidator(found.entry), fallbackOnError: false };
  const background: Options = { ...x.opts, method: 'GET', body: null };
  if (ahead) ctx.reporter.stats.refreshedAhead += 1;
  else ctx.reporter.stats.revalidations += 1;
  try {
    const refreshing: Exchange = { ctx, dispatch: x.dispatch, opts: background, handler: BACKGROUND, request: refresh };
    forwardTo(refreshing, { fwd: 'stale', variants: found.variants, stale, flight, background: true, onFinished });
  } catch (error) {
    onFinished(undefined);
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
function forwardTo(x: Exchange, info: ForwardInfo): void {
  const stale = info.stale;
  const retryUnconditionally = stale?.conditional ? () => forwardTo(x, { ...info, stale: { ...stale, conditional: false } }) : undefined;
  x.dispatch(withValidators(x.opts, x.request, stale), new CachingHandler(x.ctx, x.request, x.handler, withFlight(info, info.flight, retryUnconditionally)));
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

/** Replays a stored response with its current Age and our Cache-Status. */
function serveEntry(x: Exchange, entry: StoredResponse, reuse: ServeReuse): void {
  const response = hitResponse(x.ctx, x.request, entry, reuse);
  countServed(x.ctx, x.request, entry, reuse);
  replay(x.handler, response);
}

/** A stored response as a hit serves it: its current Age and our Cache-Status (served.ts); no body for HEAD. */
function hitResponse(ctx: CacheContext, request: CacheRequest, entry: StoredResponse, reuse: ServeReuse): ReplayResponse {
  const detail = reuse.reason === 'fresh' ? undefined : reuse.reason;
  const { headers, rawHeaders } = ctx.hitHeaders.served(entry, reuse.ageMs, reuse.ttl, detail);
  return { status: entry.status, statusText: entry.statusText, headers, rawHeaders, body: request.method === 'HEAD' ? undefined : entry.body };
}

function countServed(ctx: CacheContext, request: CacheRequest, entry: StoredResponse, reuse: ServeReuse): void {
  ctx.reporter.stats.served(request.method === 'HEAD' ? 0 : entry.body.byteLength, reuse.ttl <= 0);
}

/**
 * A fresh hit answered at once, without a dispatch (`cache.fetch`'s hits,
 * fetch-hits.ts): the request is analysed, looked up and planned exactly as a
 * dispatched one is, and only a plain hit — fresh, whole, nothing to refresh,
 * from a storage that answers at once — is given to `make`. `make` turns it
 * into the caller's answer, or declines (undefined); nothing is counted or
 * published unless it answers, and a declined request goes the usual way.
 */
export function answerAtOnce<T>(ctx: CacheContext, opts: Options, make: (hit: ReplayResponse) => T | undefined): T | undefined {
  const analysis = analyzeRequest(opts, ctx.options, ctx.keys, undefined, NO_CONTROL);
  if (!analysis.cacheable || analysis.request.conditional || analysis.request.range !== undefined) return undefined;
  const request = analysis.request;
  const found = ctx.records.findSync(request);
  if (found === undefined || !found.found) return undefined;
  const plan = planRequest(request, found, ctx.options, ctx.clock.now());
  if (plan.step !== 'serve' || plan.form !== 'full' || plan.refresh) return undefined;
  const answer = make(hitResponse(ctx, request, plan.entry, plan.reuse));
  if (answer === undefined) return undefined;
  decide(ctx, request, plan.outcome, plan.reason);
  countServed(ctx, request, plan.entry, plan.reuse);
  return answer;
}

function serveRange(x: Exchange, entry: StoredResponse, reuse: ServeReuse, bytes: [number, number] | undefined): void {
  const { ctx, handler } = x;
  const total = entry.body.byteLength;
  const cacheStatus = formatCacheStatus({ hit: true, ttl: reuse.ttl });
  if (bytes === undefined) {
    // RFC 9110 §15.5.17: nothing of the range exists.
    const headers: ResponseHeaders = { 'content-range': `bytes */${total}`, 'content-length': '0' };
    replay(handler, { status: 416, statusText: 'Range Not Satisfiable', headers: withCacheStatus(headers, cacheStatus) });
    return;
  }
  const [first, last] = bytes;
  ctx.reporter.stats.served(last - first + 1, false);
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

function serveNotModified(handler: Handler, entry: StoredResponse, reuse: ServeReuse): void {
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

function serveShared(x: Exchange, shared: SharedResponse): void {
  const { ctx, handler, request } = x;
  ctx.reporter.stats.collapsed += 1;
  replay(handler, {
    status: shared.status,
    statusText: shared.statusText,
    headers: withCacheStatus(shared.headers, formatCacheStatus({ ...shared.cacheStatus, collapsed: true })),
    body: request.method === 'HEAD' ? undefined : shared.body,
  });
}

function usableByFollower(x: Exchange, shared: SharedResponse): boolean {
  if (shared.vary === undefined) return true;
  return sameVaryPairs(shared.vary, x.ctx.records.varyPairs(namesOf(shared.vary), x.request.headers));
}

function gatewayTimeout(handler: Handler): void {
  const headers: ResponseHeaders = { 'content-length': '0' };
  replay(handler, { status: 504, statusText: 'Gateway Timeout', headers: withCacheStatus(headers, formatCacheStatus({ detail: 'only-if-cached' })) });
}

export function decide(ctx: CacheContext, request: CacheRequest, outcome: DecisionOutcome, reason: string): void {
  ctx.reporter.stats.decided(outcome, reason);
  if (ctx.reporter.wantsDecisions) {
    ctx.reporter.decision({ outcome, reason, method: request.method, url: request.url.storedUrl, key: request.key });
  }
}
