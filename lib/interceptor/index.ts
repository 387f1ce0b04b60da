/**
 * The undici interceptor: for each request, decide whether the cache takes
 * part, look the key up (fail-open), and either replay a stored response or
 * forward to the origin through a handler that stores what comes back.
 */
import type { Dispatcher } from 'undici';
import type { CacheContext } from './context.js';
import { analyzeRequest, type CacheRequest } from '../policy/request.js';
import { currentAge } from '../policy/freshness.js';
import { pairsToHeaders } from '../policy/headers.js';
import { ResponseFlags, type StoredResponse } from '../serialize.js';
import { lookup, type Lookup } from './lookup.js';
import { replay } from './replay.js';
import { CachingHandler, type ForwardInfo } from './caching-handler.js';
import { PassThroughHandler } from './pass-through-handler.js';
import { formatCacheStatus, withCacheStatus, type ForwardReason } from './cache-status.js';
import { modernHandler } from './undici-compat.js';

type DispatchFn = Dispatcher.Dispatch;
type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

export function createInterceptor(ctx: CacheContext): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => function cachetteDispatch(opts: Options, rawHandler: Handler): boolean {
    const handler = modernHandler(rawHandler);
    if (opts.upgrade || opts.method === 'CONNECT') return dispatch(opts, handler);

    const analysis = analyzeRequest(opts, ctx.options, ctx.keys);
    if (!analysis.cacheable) {
      const fwd: ForwardReason = analysis.reason === 'method' ? 'method' : analysis.reason === 'request-no-store' ? 'request' : 'bypass';
      if (ctx.reporter.wantsDecisions) {
        ctx.reporter.decision({ outcome: 'bypass', reason: analysis.reason, method: analysis.method, url: analysis.url });
      }
      const detail = analysis.reason === 'method' ? undefined : analysis.reason;
      return dispatch(opts, new PassThroughHandler(handler, formatCacheStatus({ fwd, detail })));
    }

    respond(ctx, dispatch, opts, handler, analysis.request).catch((error: unknown) => {
      handler.onResponseError?.(null as never, error instanceof Error ? error : new Error(String(error)));
    });
    return true;
  };
}

async function respond(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest): Promise<void> {
  let found: Lookup;
  try {
    found = await lookup(ctx, request);
  } catch (error) {
    // Lookup is fail-open by construction; should a bug of ours throw anyway, the origin still answers.
    ctx.reporter.storageError({ operation: 'lookup', partition: ctx.responses.name, error });
    found = { found: false, fwd: 'uri-miss', variants: undefined };
  }
  if (found.found) {
    const entry = found.entry;
    const now = Date.now();
    const age = currentAge(entry, now);
    if (age < entry.lifetime && (entry.flags & ResponseFlags.noCache) === 0) {
      decide(ctx, request, 'hit', 'fresh');
      replayEntry(handler, request, entry, age, formatCacheStatus({ hit: true, ttl: (entry.lifetime - age) / 1000 }));
      return;
    }
    forward(ctx, dispatch, opts, handler, request, { fwd: 'stale', variants: found.variants });
    return;
  }
  decide(ctx, request, 'miss', found.fwd);
  forward(ctx, dispatch, opts, handler, request, { fwd: found.fwd, variants: found.variants });
}

function forward(ctx: CacheContext, dispatch: DispatchFn, opts: Options, handler: Handler, request: CacheRequest, info: ForwardInfo): void {
  dispatch(opts, new CachingHandler(ctx, request, handler, info));
}

/** Replays a stored response with its current Age (RFC 9111 §5.1) and our Cache-Status. */
function replayEntry(handler: Handler, request: CacheRequest, entry: StoredResponse, ageMs: number, cacheStatus: string): void {
  const hidden = entry.hiddenFields;
  const headers = pairsToHeaders(entry.headers, hidden === null ? skipAge : (name) => name === 'age' || hidden.includes(name));
  // https://www.rfc-editor.org/rfc/rfc9111.html#name-age
  headers['age'] = String(Math.floor(ageMs / 1000));
  replay(handler, {
    status: entry.status,
    statusText: entry.statusText,
    headers: withCacheStatus(headers, cacheStatus),
    body: request.method === 'HEAD' ? undefined : entry.body,
  });
}

function skipAge(name: string): boolean {
  return name === 'age';
}

function decide(ctx: CacheContext, request: CacheRequest, outcome: string, reason: string): void {
  if (ctx.reporter.wantsDecisions) {
    ctx.reporter.decision({ outcome, reason, method: request.method, url: request.url.storedUrl, key: request.key });
  }
}
