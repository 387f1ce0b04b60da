/**
 * The pure decisions, one table each, at a given instant (`NOW`): what may
 * be stored and for how long, how fresh a response is, whether a stored one
 * may answer, whether it may stand in for an origin error, and which
 * requests share a key. No I/O, no clock: every time is a number.
 */
import { expect } from 'chai';
import { type CacheOptions, resolveOptions } from '../../lib/options.js';
import { type CacheControl, parseCacheControl } from '../../lib/policy/cache-control.js';
import { correctedInitialAge, freshnessLifetime } from '../../lib/policy/freshness.js';
import { normalizeRequestHeaders } from '../../lib/policy/headers.js';
import { KeyPolicy } from '../../lib/policy/key.js';
import { readResponse } from '../../lib/policy/response.js';
import { mayServeOnError, reuseDecision } from '../../lib/policy/reuse.js';
import { storeDecision } from '../../lib/policy/storable.js';
import { normalizeRequestUrl } from '../../lib/policy/url.js';
import { ResponseFlags, type StoredResponse } from '../../lib/records/model.js';
import { storedAt } from './stored-response.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const httpDate = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toUTCString();

describe('policy decisions (tables, at a fixed instant)', () => {
  describe('storeDecision: stored or not, why, and for how long', () => {
    const rows: Array<{
      name: string;
      status?: number;
      headers: Record<string, string | string[]>;
      options?: CacheOptions;
      authorized?: boolean;
      perCredential?: boolean;
      request?: string;
      expect: { store: boolean; reason?: string; lifetimeS?: number; source?: string };
    }> = [
      { name: 'max-age', headers: { 'cache-control': 'max-age=60' }, expect: { store: true, lifetimeS: 60, source: 'max-age' } },
      {
        name: 's-maxage wins in a shared cache',
        headers: { 'cache-control': 'max-age=60, s-maxage=10' },
        expect: { store: true, lifetimeS: 10, source: 'shared-max-age' },
      },
      {
        name: 's-maxage is ignored by a private cache',
        headers: { 'cache-control': 'max-age=60, s-maxage=10' },
        options: { type: 'private' },
        expect: { store: true, lifetimeS: 60 },
      },
      { name: 'Expires minus Date', headers: { expires: httpDate(120), date: httpDate(0) }, expect: { store: true, lifetimeS: 120, source: 'expires' } },
      {
        name: 'an invalid Expires: stale at once, and with no validator of no use',
        headers: { expires: '0' },
        expect: { store: false, reason: 'not-reusable' },
      },
      { name: 'an invalid Expires with a validator: kept to revalidate', headers: { expires: '0', etag: '"a"' }, expect: { store: true, lifetimeS: 0 } },
      {
        name: 'heuristic: 10% since Last-Modified',
        headers: { 'last-modified': httpDate(-1000), date: httpDate(0) },
        expect: { store: true, lifetimeS: 100, source: 'heuristic' },
      },
      {
        name: 'expireAfter when the response says nothing',
        headers: {},
        options: { expireAfter: 30 },
        expect: { store: true, lifetimeS: 30, source: 'configured' },
      },
      { name: "the request's own expireAfter", headers: {}, options: { expireAfter: 30 }, request: 'expire-5', expect: { store: true, lifetimeS: 5 } },
      { name: 'no-store', headers: { 'cache-control': 'no-store, max-age=60' }, expect: { store: false, reason: 'no-store' } },
      {
        name: 'no-store, also with cacheControl: false',
        headers: { 'cache-control': 'no-store' },
        options: { cacheControl: false, expireAfter: 60 },
        expect: { store: false, reason: 'no-store' },
      },
      { name: "the request's no-store", headers: { 'cache-control': 'max-age=60' }, request: 'no-store', expect: { store: false, reason: 'request-no-store' } },
      { name: 'private, in a shared cache', headers: { 'cache-control': 'private, max-age=60' }, expect: { store: false, reason: 'private' } },
      { name: 'private, in a private cache', headers: { 'cache-control': 'private, max-age=60' }, options: { type: 'private' }, expect: { store: true } },
      {
        name: 'private, keyed by its credential',
        headers: { 'cache-control': 'private, max-age=60' },
        authorized: true,
        perCredential: true,
        expect: { store: true },
      },
      {
        name: 'an authorized request, shared cache',
        headers: { 'cache-control': 'max-age=60' },
        authorized: true,
        expect: { store: false, reason: 'authorization' },
      },
      { name: 'an authorized request, public', headers: { 'cache-control': 'public, max-age=60' }, authorized: true, expect: { store: true } },
      { name: 'Set-Cookie, shared cache', headers: { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, expect: { store: false, reason: 'set-cookie' } },
      {
        name: 'Set-Cookie with no-cache="set-cookie"',
        headers: { 'cache-control': 'max-age=60, no-cache="set-cookie"', 'set-cookie': 'a=1' },
        expect: { store: true },
      },
      { name: 'Vary: *', headers: { 'cache-control': 'max-age=60', vary: '*' }, expect: { store: false, reason: 'vary-star' } },
      {
        name: 'an event stream',
        headers: { 'cache-control': 'no-cache', 'content-type': 'text/event-stream' },
        expect: { store: false, reason: 'event-stream' },
      },
      { name: '206', status: 206, headers: { 'cache-control': 'max-age=60' }, expect: { store: false, reason: 'partial-content' } },
      { name: 'a 500 with max-age', status: 500, headers: { 'cache-control': 'max-age=60' }, expect: { store: true, lifetimeS: 60 } },
      {
        name: 'a 500 with expireAfter only: not heuristically cacheable',
        status: 500,
        headers: {},
        options: { expireAfter: 60 },
        expect: { store: false, reason: 'status' },
      },
      {
        name: 'statuses excludes it',
        status: 404,
        headers: { 'cache-control': 'max-age=60' },
        options: { statuses: [200] },
        expect: { store: false, reason: 'status' },
      },
      {
        name: 'a urlsExpireAfter rule says no-store',
        headers: { 'cache-control': 'max-age=60' },
        options: { urlsExpireAfter: { 'api.example.com/*': 'no-store' } },
        expect: { store: false, reason: 'url-rule' },
      },
      {
        name: 'must-understand with an understood status overrides no-store',
        headers: { 'cache-control': 'must-understand, no-store, max-age=60' },
        expect: { store: true },
      },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const options = resolveOptions(row.options ?? {});
        const decision = storeDecision({
          options,
          method: 'GET',
          url: 'https://api.example.com/items',
          requestDirectives: row.request === 'no-store' ? parseCacheControl('no-store') : {},
          authorized: row.authorized ?? false,
          perCredential: row.perCredential ?? false,
          response: readResponse(row.status ?? 200, row.headers, options.targetedCacheControl),
          requestTime: NOW,
          responseTime: NOW,
          expireAfter: row.request === 'expire-5' ? 5 : undefined,
        });
        expect(decision.store).to.equal(row.expect.store);
        if (!decision.store) expect(decision.reason).to.equal(row.expect.reason);
        else {
          if (row.expect.lifetimeS !== undefined) expect(decision.lifetime).to.equal(row.expect.lifetimeS * 1000);
          if (row.expect.source !== undefined) expect(decision.freshness).to.equal(row.expect.source);
        }
      });
    }
  });

  describe('freshnessLifetime and the corrected initial age (RFC 9111 §4.2)', () => {
    const rows: Array<[string, Record<string, string>, CacheControl, number, string]> = [
      ['max-age=0', {}, { maxAge: 0 }, 0, 'max-age'],
      ['an invalid max-age: stale', {}, { maxAge: 'invalid' }, 0, 'max-age'],
      ['Expires before Date: 0, not negative', { expires: httpDate(-10), date: httpDate(0) }, {}, 0, 'expires'],
      ['Expires without Date: against the response time', { expires: httpDate(60) }, {}, 60_000, 'expires'],
      ['no information: none', {}, {}, 0, 'none'],
    ];
    for (const [name, headers, directives, lifetime, source] of rows) {
      it(name, () => {
        expect(
          freshnessLifetime({ status: 200, headers, directives, shared: true, cacheControl: true, configured: undefined, responseTime: NOW }),
        ).to.deep.equal({ lifetime, source });
      });
    }

    it('age: the larger of now − Date and Age plus the time the request took', () => {
      expect(correctedInitialAge({ date: httpDate(-30) }, NOW - 1000, NOW)).to.equal(30_000);
      expect(correctedInitialAge({ date: httpDate(0), age: '100' }, NOW - 1000, NOW)).to.equal(101_000);
      expect(correctedInitialAge({ age: 'abc' }, NOW, NOW)).to.equal(0);
    });
  });

  describe('reuseDecision and mayServeOnError (RFC 9111 §4.2.4, §5.2; RFC 5861)', () => {
    /** A response stored at NOW with `lifetime` seconds of freshness, looked at `after` seconds later. */
    function entry(lifetime: number, flags = 0, swr = -1, sie = -1): StoredResponse {
      return storedAt(NOW, { lifetime, flags, swr, sie });
    }
    const rows: Array<{
      name: string;
      entry: StoredResponse;
      after: number;
      request?: string;
      options?: CacheOptions;
      action: string;
      reason: string;
      refresh?: boolean;
    }> = [
      { name: 'fresh', entry: entry(60), after: 30, action: 'serve', reason: 'fresh', refresh: false },
      { name: 'stale', entry: entry(60), after: 61, action: 'revalidate', reason: 'stale' },
      { name: 'no-cache on the response', entry: entry(60, ResponseFlags.noCache), after: 1, action: 'revalidate', reason: 'no-cache' },
      { name: 'no-cache on the request', entry: entry(60), after: 1, request: 'no-cache', action: 'revalidate', reason: 'request-no-cache' },
      { name: 'request max-age older than allowed', entry: entry(60), after: 20, request: 'max-age=10', action: 'revalidate', reason: 'request-max-age' },
      {
        name: 'request max-age=0 on a fresh immutable response (RFC 8246)',
        entry: entry(60, ResponseFlags.immutable),
        after: 20,
        request: 'max-age=0',
        action: 'serve',
        reason: 'fresh',
      },
      { name: 'min-fresh asks more than is left', entry: entry(60), after: 50, request: 'min-fresh=20', action: 'revalidate', reason: 'min-fresh' },
      { name: 'max-stale accepts this staleness', entry: entry(60), after: 70, request: 'max-stale=30', action: 'serve', reason: 'max-stale' },
      {
        name: 'max-stale, but must-revalidate',
        entry: entry(60, ResponseFlags.mustRevalidate),
        after: 70,
        request: 'max-stale=30',
        action: 'revalidate',
        reason: 'stale',
      },
      {
        name: 'stale-while-revalidate from the response',
        entry: entry(60, 0, 30),
        after: 80,
        action: 'serve',
        reason: 'stale-while-revalidate',
        refresh: true,
      },
      { name: 'past the stale-while-revalidate window', entry: entry(60, 0, 30), after: 100, action: 'revalidate', reason: 'stale' },
      {
        name: 'staleWhileRevalidate option',
        entry: entry(60),
        after: 100,
        options: { staleWhileRevalidate: 60 },
        action: 'serve',
        reason: 'stale-while-revalidate',
        refresh: true,
      },
      {
        name: 's-maxage in a shared cache forbids serving stale',
        entry: entry(60, ResponseFlags.sMaxAge, 30),
        after: 70,
        action: 'revalidate',
        reason: 'stale',
      },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const options = resolveOptions(row.options ?? {});
        const reuse = reuseDecision(row.entry, row.request === undefined ? {} : parseCacheControl(row.request), options, NOW + row.after * 1000);
        expect([reuse.action, reuse.reason]).to.deep.equal([row.action, row.reason]);
        if (reuse.action === 'serve' && row.refresh !== undefined) expect(reuse.refresh).to.equal(row.refresh);
      });
    }

    const onError: Array<[string, StoredResponse, number, CacheOptions, string | undefined, number | undefined, boolean]> = [
      ["the response's stale-if-error, within", entry(60, 0, -1, 30), 80, {}, undefined, undefined, true],
      ["the response's stale-if-error, past it", entry(60, 0, -1, 30), 100, {}, undefined, undefined, false],
      ['the staleIfError option', entry(60), 1000, { staleIfError: true }, undefined, undefined, true],
      ["the request's stale-if-error", entry(60), 80, {}, 'stale-if-error=30', undefined, true],
      ["the request's own staleIfError (cachette.staleIfError)", entry(60), 80, {}, undefined, 30_000, true],
      ['must-revalidate: never', entry(60, ResponseFlags.mustRevalidate, -1, 30), 70, { staleIfError: true }, undefined, undefined, false],
      ['no-cache: only an in-protocol stale-if-error', entry(60, ResponseFlags.noCache), 70, { staleIfError: true }, undefined, undefined, false],
    ];
    for (const [name, stored, after, options, request, requested, expected] of onError) {
      it(`serve on error: ${name}`, () => {
        expect(
          mayServeOnError(stored, request === undefined ? {} : parseCacheControl(request), resolveOptions(options), NOW + after * 1000, requested),
        ).to.equal(expected);
      });
    }
  });

  describe('keys: which requests share an entry', () => {
    const key = (policy: KeyPolicy, url: string, headers: Record<string, string> = {}) => {
      const parsed = new URL(url);
      const normalized = normalizeRequestUrl(parsed.origin, `${parsed.pathname}${parsed.search}`, {
        ignored: new Set(['token']),
        redacted: new Set(['token']),
      });
      return policy.keyFor({ method: 'GET', url: normalized.keyUrl, headers: normalizeRequestHeaders(headers) });
    };
    const plain = new KeyPolicy({ matchHeaders: [], perCredential: false });
    const rows: Array<[string, string, string, boolean]> = [
      ['query order does not matter', 'https://h.example/a?x=1&y=2', 'https://h.example/a?y=2&x=1', true],
      ['scheme and host case, and the default port, do not matter', 'HTTPS://H.example:443/a', 'https://h.example/a', true],
      ['a fragment does not matter', 'https://h.example/a#top', 'https://h.example/a', true],
      ['an ignored parameter does not matter', 'https://h.example/a?token=1', 'https://h.example/a?token=2', true],
      ['path case matters', 'https://h.example/A', 'https://h.example/a', false],
      ['a query value matters', 'https://h.example/a?x=1', 'https://h.example/a?x=2', false],
      ['another port matters', 'https://h.example:8443/a', 'https://h.example/a', false],
    ];
    for (const [name, a, b, same] of rows) {
      it(name, () => expect(key(plain, a) === key(plain, b)).to.equal(same));
    }

    it('matchHeaders and credentials (per credential) make keys of their own; keys never hold a credential', () => {
      const byLanguage = new KeyPolicy({ matchHeaders: ['accept-language'], perCredential: false });
      expect(key(byLanguage, 'https://h.example/a', { 'accept-language': 'fr' })).to.not.equal(
        key(byLanguage, 'https://h.example/a', { 'accept-language': 'de' }),
      );
      const perCredential = new KeyPolicy({ matchHeaders: [], perCredential: true });
      const alice = key(perCredential, 'https://h.example/a', { authorization: 'Bearer alice' });
      expect(alice).to.not.equal(key(perCredential, 'https://h.example/a', { authorization: 'Bearer bob' }));
      expect(alice).to.not.include('alice');
      const chosen = perCredential.givenKey('mine', normalizeRequestHeaders({ authorization: 'Bearer alice' }), 'https://h.example/a');
      expect(chosen).to.match(/^[\w-]{43}$/);
      expect(chosen).to.not.equal(perCredential.givenKey('mine', normalizeRequestHeaders({ authorization: 'Bearer bob' }), 'https://h.example/a'));
      expect(perCredential.givenKey('mine', normalizeRequestHeaders({}), 'https://h.example/a')).to.equal('mine');
    });
  });
});
