/**
 * The request plan (lib/policy/plan.ts): what the interceptor does with a
 * request, given what the lookup found and the time — serve, revalidate,
 * forward or refuse — and the decision it publishes. A pure function: every
 * row is a request, an entry and an instant; no origin, no storage.
 */
import { expect } from 'chai';
import { type CacheOptions, resolveOptions } from '../../lib/options.js';
import { NO_CONTROL, resolveControl } from '../../lib/policy/control.js';
import { KeyPolicy } from '../../lib/policy/key.js';
import { planRequest, type RequestPlan } from '../../lib/policy/plan.js';
import { analyzeRequest, type CacheRequest } from '../../lib/policy/request.js';
import { ResponseFlags, type StoredResponse } from '../../lib/records/model.js';
import type { Lookup } from '../../lib/records/store.js';
import { storedAt } from './stored-response.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

/** A 200 stored at NOW with `lifetime` seconds of freshness, a Date field, and a body of 10 bytes (for ranges). */
function stored(lifetime: number, extra: { headers?: string[]; flags?: number; swr?: number; sie?: number } = {}): StoredResponse {
  return storedAt(NOW, { lifetime, headers: ['date', new Date(NOW).toUTCString()], body: new TextEncoder().encode('0123456789'), ...extra });
}

function request(headers: Record<string, string> = {}, mode?: string, method = 'GET'): CacheRequest {
  const control = mode === undefined ? NO_CONTROL : resolveControl(undefined, mode);
  const analysis = analyzeRequest(
    { origin: 'https://api.example.com', path: '/items', method, headers },
    resolveOptions({}),
    new KeyPolicy({ matchHeaders: [], perCredential: false }),
    undefined,
    control,
  );
  if (!analysis.cacheable) throw new Error(`not cacheable: ${analysis.reason}`);
  return analysis.request;
}

const found = (entry: StoredResponse): Lookup => ({ found: true, entry, key: 'k', variants: undefined });
const missing: Lookup = { found: false, fwd: 'uri-miss', variants: undefined };

/** The parts of a plan a row states: its step, decision, and what it serves or sends. */
function summary(plan: RequestPlan): string {
  const decision = plan.outcome === undefined ? 'no decision' : `${plan.outcome} (${plan.reason})`;
  switch (plan.step) {
    case 'serve':
      return `serve ${plan.form}${plan.form === 'range' ? ` ${JSON.stringify(plan.bytes)}` : ''}${plan.refresh ? ' + refresh' : ''}: ${decision}`;
    case 'revalidate':
      return `revalidate fwd=${plan.fwd}${plan.conditional ? ' conditional' : ''}${plan.fallbackOnError ? ' stale-if-error' : ''}: ${decision}`;
    case 'forward':
      return `forward fwd=${plan.fwd}${plan.alone ? ' alone' : ''}: ${decision}`;
    case 'refuse':
      return `refuse: ${decision}`;
  }
}

describe('planRequest: what to do with a request, at a fixed instant', () => {
  const rows: Array<[string, CacheRequest, Lookup, number, string, CacheOptions?]> = [
    ['nothing stored: forward, collapsed with identical requests', request(), missing, 0, 'forward fwd=uri-miss: miss (uri-miss)'],
    ['nothing stored under only-if-cached: a 504', request({ 'cache-control': 'only-if-cached' }), missing, 0, 'refuse: miss (uri-miss)'],
    ["nothing stored, fetch's only-if-cached mode: a 504", request({}, 'only-if-cached'), missing, 0, 'refuse: miss (uri-miss)'],
    ['fresh: served', request(), found(stored(60)), 10, 'serve full: hit (fresh)'],
    ['stale, with a validator (its Date): revalidated conditionally', request(), found(stored(60)), 61, 'revalidate fwd=stale conditional: revalidate (stale)'],
    ['stale, no validator at all: revalidated unconditionally', request(), found(stored(60, { headers: [] })), 61, 'revalidate fwd=stale: revalidate (stale)'],
    [
      'stale within stale-while-revalidate: served, and refreshed behind',
      request(),
      found(stored(60, { swr: 30 })),
      70,
      'serve full + refresh: hit (stale-while-revalidate)',
    ],
    [
      'stale within stale-if-error: revalidated, an origin failure answered with it',
      request(),
      found(stored(60, { sie: 300 })),
      70,
      'revalidate fwd=stale conditional stale-if-error: revalidate (stale)',
    ],
    [
      'response no-cache: revalidated even fresh',
      request(),
      found(stored(60, { flags: ResponseFlags.noCache })),
      1,
      'revalidate fwd=stale conditional: revalidate (no-cache)',
    ],
    [
      'request max-age=0: revalidated',
      request({ 'cache-control': 'max-age=0' }),
      found(stored(60)),
      1,
      'revalidate fwd=request conditional: revalidate (request-max-age)',
    ],
    [
      'stale under only-if-cached: a 504, the decision said',
      request({ 'cache-control': 'only-if-cached' }),
      found(stored(60)),
      61,
      'refuse: revalidate (stale)',
    ],
    ["fetch's reload: forwarded, whatever is stored", request({}, 'reload'), found(stored(60)), 1, 'forward fwd=request: forward (reload)'],
    ["fetch's force-cache: a stale entry is served as it is", request({}, 'force-cache'), found(stored(60)), 600, 'serve full: hit (force-cache)'],
    [
      "fetch's only-if-cached mode: a stale entry is served as it is",
      request({}, 'only-if-cached'),
      found(stored(60)),
      600,
      'serve full: hit (only-if-cached)',
    ],
    [
      "the client's condition holds on a fresh entry: a 304 from the cache",
      request({ 'if-none-match': '"v1"' }),
      found(stored(60, { headers: ['etag', '"v1"'] })),
      1,
      'serve not-modified: hit (not-modified)',
    ],
    [
      "the client's condition fails on a fresh entry: the whole response",
      request({ 'if-none-match': '"v0"' }),
      found(stored(60, { headers: ['etag', '"v1"'] })),
      1,
      'serve full: hit (condition-false)',
    ],
    [
      "the client's condition on a stale entry: forwarded as it is",
      request({ 'if-none-match': '"v1"' }),
      found(stored(60, { headers: ['etag', '"v1"'] })),
      61,
      'forward fwd=request alone: forward (conditional)',
    ],
    [
      "the client's condition under only-if-cached, nothing to evaluate it on: a 504, no decision",
      request({ 'if-none-match': '"v1"', 'cache-control': 'only-if-cached' }),
      missing,
      0,
      'refuse: no decision',
    ],
    ['a range of a fresh 200: cut from it', request({ range: 'bytes=2-4' }), found(stored(60)), 1, 'serve range [2,4]: hit (range)'],
    [
      'a range past the end of a fresh 200: a 416 from the cache',
      request({ range: 'bytes=50-60' }),
      found(stored(60)),
      1,
      'serve range undefined: hit (range)',
    ],
    ['a range of a stale entry: forwarded as it is', request({ range: 'bytes=2-4' }), found(stored(60)), 61, 'forward fwd=stale alone: forward (range)'],
    ['a range with nothing stored: forwarded as it is', request({ range: 'bytes=2-4' }), missing, 0, 'forward fwd=uri-miss alone: forward (range)'],
  ];
  for (const [name, req, lookup, after, expected, options] of rows) {
    it(name, () => {
      expect(summary(planRequest(req, lookup, resolveOptions(options ?? {}), NOW + after * 1000))).to.equal(expected);
    });
  }

  it('a stale entry must-revalidate is never served stale, even within stale-while-revalidate', () => {
    const plan = planRequest(request(), found(stored(60, { flags: ResponseFlags.mustRevalidate, swr: 30 })), resolveOptions({}), NOW + 70_000);
    expect(summary(plan)).to.equal('revalidate fwd=stale conditional: revalidate (stale)');
  });

  it('the cache-wide staleWhileRevalidate option serves stale where the response says nothing', () => {
    const plan = planRequest(request(), found(stored(60)), resolveOptions({ staleWhileRevalidate: 30 }), NOW + 70_000);
    expect(summary(plan)).to.equal('serve full + refresh: hit (stale-while-revalidate)');
  });
});
