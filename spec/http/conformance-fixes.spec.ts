import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { request } from 'undici';
import { useOrigin, fetchText, httpDate } from '../support.js';
import type { HttpCache } from '../../lib/cache.js';
import { parseDictionary } from '../../lib/policy/targeted.js';

describe('RFC details found by the external conformance suite', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('RFC 9111 §5.1: an Age list ("7200, 0") counts by its first member', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=3600', age: '7200, 0' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await fetchText(cache, url('/a'));
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('RFC 9110 §15.4.5: a 304 carrying a Content-Length still revalidates (undici would fail it as short)', async () => {
    env.origin.route('/a', (req, res) => {
      if (req.headers['if-none-match'] === '"e"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', 'content-length': '4' });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1', age: '5', 'content-length': '4' });
      res.end('body');
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const revalidated = await fetchText(cache, url('/a'));
    expect(revalidated.status).to.equal(200);
    expect(revalidated.body).to.equal('body');
    expect(revalidated.cacheStatus).to.match(/fwd=stale; fwd-status=304; stored/);
    // The client's own conditional request, forwarded: its 304 arrives cleanly too.
    const own = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"e"', 'cache-control': 'no-cache' } });
    expect(own.status).to.equal(304);
  });

  it('RFC 9111 §4.2.4: the staleIfError option does not override a no-cache response; its own stale-if-error does', async () => {
    env.origin.route('/plain', respond(200, { 'cache-control': 'max-age=1, no-cache', age: '5', etag: '"p"' }, 'x'));
    env.origin.route('/explicit', respond(200, { 'cache-control': 'max-age=1, no-cache, stale-if-error=60', age: '5', etag: '"e"' }, 'x'));
    const cache = env.cache({ staleIfError: true });
    await fetchText(cache, url('/plain'));
    await fetchText(cache, url('/explicit'));
    env.origin.route('/plain', respond(503, {}, 'down'));
    env.origin.route('/explicit', respond(503, {}, 'down'));
    expect((await fetchText(cache, url('/plain'))).status).to.equal(503);
    expect((await fetchText(cache, url('/explicit'))).status).to.equal(200);
  });

  describe('RFC 9111 §4.3.2: a client conditional request answered from a fresh entry', () => {
    // undici.request, because fetch adds Cache-Control: no-cache to conditional requests (Fetch §4.5).
    const conditional = async (cache: HttpCache, headers: Record<string, string>) => {
      const response = await request(url('/a'), { dispatcher: cache.dispatcher, headers });
      const body = await response.body.text();
      return { status: response.statusCode, headers: response.headers, body };
    };

    beforeEach(() => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600', etag: '"abc"', 'last-modified': httpDate(-3000), 'content-type': 'text/plain', 'x-extra': '1' }, 'body'));
    });

    it('If-None-Match matching (weakly) → 304 with the validators, without the origin', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      for (const tag of ['"abc"', 'W/"abc"', '"x", "abc"', '*']) {
        const response = await conditional(cache, { 'if-none-match': tag });
        expect(response.status, tag).to.equal(304);
        expect(response.headers['etag']).to.equal('"abc"');
        expect(response.headers['cache-control']).to.equal('max-age=600');
        expect(response.headers['x-extra']).to.equal(undefined);
        expect(response.headers['cache-status']).to.match(/^cachette; hit; ttl=\d+; detail=not-modified$/);
        expect(response.body).to.equal('');
      }
      expect(env.origin.hits('/a')).to.equal(1);
    });

    it('If-None-Match not matching → the full stored response', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const response = await conditional(cache, { 'if-none-match': '"other"' });
      expect(response.status).to.equal(200);
      expect(response.body).to.equal('body');
      expect(env.origin.hits('/a')).to.equal(1);
    });

    it('If-None-Match takes precedence over If-Modified-Since', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const response = await conditional(cache, { 'if-none-match': '"abc"', 'if-modified-since': httpDate(-10_000) });
      expect(response.status).to.equal(304);
    });

    it('If-Modified-Since at or after Last-Modified → 304; before → 200', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      expect((await conditional(cache, { 'if-modified-since': httpDate(-2000) })).status).to.equal(304);
      expect((await conditional(cache, { 'if-modified-since': httpDate(-5000) })).status).to.equal(200);
      expect(env.origin.hits('/a')).to.equal(1);
    });

    it('If-Match and If-Unmodified-Since are the origin\'s to evaluate', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      await conditional(cache, { 'if-match': '"abc"' });
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('through fetch, which marks conditional requests no-cache, they go to the origin', async () => {
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const response = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"abc"' } });
      expect(response.headers.get('cache-status')).to.match(/^cachette; fwd=request/);
    });
  });

  describe('RFC 9213: CDN-Cache-Control in a shared cache', () => {
    it('rules over Cache-Control and Expires', async () => {
      env.origin.route('/long', respond(200, { 'cdn-cache-control': 'max-age=3600', 'cache-control': 'no-store', expires: httpDate(-10) }, 'x'));
      env.origin.route('/short', respond(200, { 'cdn-cache-control': 'max-age=0', 'cache-control': 'max-age=3600' }, 'x'));
      env.origin.route('/private', respond(200, { 'cdn-cache-control': 'private', 'cache-control': 'max-age=3600' }, 'x'));
      env.origin.route('/no-store', respond(200, { 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=3600' }, 'x'));
      const cache = env.cache();
      for (const path of ['/long', '/short', '/private', '/no-store']) {
        await fetchText(cache, url(path));
        await fetchText(cache, url(path));
      }
      expect(env.origin.hits('/long')).to.equal(1);
      expect(env.origin.hits('/short')).to.equal(2);
      expect(env.origin.hits('/private')).to.equal(2);
      expect(env.origin.hits('/no-store')).to.equal(2);
    });

    it('an invalid field (not a Structured Field, or a directive of the wrong type) is ignored', async () => {
      env.origin.route('/junk', respond(200, { 'cdn-cache-control': 'max-age=10000, &&&&&', 'cache-control': 'no-store' }, 'x'));
      env.origin.route('/string', respond(200, { 'cdn-cache-control': 'max-age="10000"', 'cache-control': 'no-store' }, 'x'));
      const cache = env.cache();
      for (const path of ['/junk', '/string']) {
        await fetchText(cache, url(path));
        await fetchText(cache, url(path));
        expect(env.origin.hits(path), path).to.equal(2);
      }
    });

    it('is ignored by a private cache, and configurable', async () => {
      env.origin.route('/a', respond(200, { 'cdn-cache-control': 'max-age=3600', 'cache-control': 'no-store' }, 'x'));
      const privateCache = env.cache({ type: 'private' });
      await fetchText(privateCache, url('/a'));
      await fetchText(privateCache, url('/a'));
      const none = env.cache({ targetedCacheControl: [] });
      await fetchText(none, url('/a'));
      await fetchText(none, url('/a'));
      expect(env.origin.hits('/a')).to.equal(4);
    });

    it('Structured Field Dictionaries parse per RFC 8941', () => {
      expect([...(parseDictionary('max-age=60, no-store, private="a, b";x=1') ?? [])]).to.deep.equal([['max-age', 60], ['no-store', true], ['private', 'a, b']]);
      for (const invalid of ['max-age=60,', 'Max-Age=60', 'a=&', 'a="unterminated', 'a=1234567890123456']) {
        expect(parseDictionary(invalid), invalid).to.equal(undefined);
      }
    });
  });

  it('RFC 9110 §5.6.7: dates in unusual case are still understood', async () => {
    const upper = new Date(Date.now() + 600_000).toUTCString().toUpperCase();
    env.origin.route('/a', respond(200, { date: httpDate(0), expires: upper }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/hit/);
  });

  it('RFC 9111 §4.1: Accept-Language variants match whatever the order and case of the languages', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600', vary: 'Accept-Language' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'), { headers: { 'accept-language': 'en, de' } });
    expect((await fetchText(cache, url('/a'), { headers: { 'accept-language': 'DE, en' } })).cacheStatus).to.match(/hit/);
    expect((await fetchText(cache, url('/a'), { headers: { 'accept-language': 'fr' } })).cacheStatus).to.match(/vary-miss/);
  });
});
