import { expect } from 'chai';
import { type Route, respond } from '../../fixtures/origin.js';
import type { HttpCache } from '../../lib/cache.js';
import { useOrigin } from '../support.js';

/** Fetches a URL through the cache and returns its Cache-Status. */
async function get(cache: HttpCache, url: string, init?: Parameters<HttpCache['fetch']>[1]): Promise<string | null> {
  const response = await cache.fetch(url, init);
  await response.arrayBuffer();
  return response.headers.get('cache-status');
}

describe('expiration and filtering', () => {
  const env = useOrigin({ clock: true });
  const plain: Route = respond(200, { 'content-type': 'text/plain' }, 'body');

  describe('expireAfter', () => {
    it('seconds: fresh for that long, then fetched again', async () => {
      env.origin.route('/a', plain);
      const cache = env.cache({ expireAfter: 1 });
      await get(cache, `${env.origin.url}/a`);
      expect(await get(cache, `${env.origin.url}/a`)).to.match(/hit; ttl=1$/);
      await env.clock.advance(1.1);
      expect(await get(cache, `${env.origin.url}/a`)).to.match(/fwd=(stale|uri-miss)/);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('"never": a response without caching headers stays fresh', async () => {
      env.origin.route('/a', plain);
      const cache = env.cache({ expireAfter: 'never' });
      expect(await get(cache, `${env.origin.url}/a`)).to.equal('cachette; fwd=uri-miss; fwd-status=200; stored');
      expect(await get(cache, `${env.origin.url}/a`)).to.equal('cachette; hit');
    });

    it('a Date: fresh until then', async () => {
      env.origin.route('/a', plain);
      const cache = env.cache({ expireAfter: new Date(env.clock.now() + 3_600_000) });
      await get(cache, `${env.origin.url}/a`);
      expect(await get(cache, `${env.origin.url}/a`)).to.match(/hit; ttl=3600$/);
    });

    it('a Date in the past: nothing fresh to serve', async () => {
      env.origin.route('/a', plain);
      const cache = env.cache({ expireAfter: new Date(Date.now() - 1000) });
      expect(await get(cache, `${env.origin.url}/a`)).to.equal('cachette; fwd=uri-miss; fwd-status=200; detail=not-reusable');
      await get(cache, `${env.origin.url}/a`);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('with cacheControl (the default), the response headers win over expireAfter', async () => {
      env.origin.route('/short', respond(200, { 'cache-control': 'max-age=1' }, 'x'));
      env.origin.route('/none', plain);
      const cache = env.cache({ expireAfter: 3600 });
      await get(cache, `${env.origin.url}/short`);
      await get(cache, `${env.origin.url}/none`);
      expect(await get(cache, `${env.origin.url}/short`)).to.match(/hit; ttl=[01]$/);
      expect(await get(cache, `${env.origin.url}/none`)).to.match(/hit; ttl=(3599|3600)$/);
    });

    it('with cacheControl: false, headers are ignored and expireAfter decides', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=0, must-revalidate' }, 'x'));
      const cache = env.cache({ cacheControl: false, expireAfter: 60 });
      await get(cache, `${env.origin.url}/a`);
      expect(await get(cache, `${env.origin.url}/a`)).to.match(/hit; ttl=(59|60)$/);
      expect(env.origin.hits('/a')).to.equal(1);
    });
  });

  describe('urlsExpireAfter', () => {
    it('the first matching glob wins, and "no-store" disables caching', async () => {
      for (const path of ['/static/app.js', '/api/live', '/api/users', '/other']) env.origin.route(path, plain);
      const cache = env.cache({
        urlsExpireAfter: {
          '127.0.0.1:*/static/': 'never',
          '*/api/live': 'no-store',
          '127.0.0.1*/api/*': 30,
        },
      });
      const base = env.origin.url;
      await get(cache, `${base}/static/app.js`);
      expect(await get(cache, `${base}/static/app.js`)).to.equal('cachette; hit');

      expect(await get(cache, `${base}/api/live`)).to.equal('cachette; fwd=uri-miss; fwd-status=200; detail=url-rule');
      expect(await get(cache, `${base}/api/live`)).to.match(/fwd=uri-miss/);

      await get(cache, `${base}/api/users`);
      expect(await get(cache, `${base}/api/users`)).to.match(/hit; ttl=(29|30)$/);

      // No rule and no caching headers: nothing to go by, nothing stored.
      expect(await get(cache, `${base}/other`)).to.match(/detail=not-reusable/);
      expect(env.origin.hits('/api/live')).to.equal(2);
    });

    it('"no-store" wins over response headers that allow caching', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'x'));
      const cache = env.cache({ urlsExpireAfter: { '*/a': 'no-store' } });
      await get(cache, `${env.origin.url}/a`);
      await get(cache, `${env.origin.url}/a`);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('falls back to expireAfter when no glob matches', async () => {
      env.origin.route('/a', plain);
      const cache = env.cache({ urlsExpireAfter: { 'example.com/*': 'never' }, expireAfter: 120 });
      await get(cache, `${env.origin.url}/a`);
      expect(await get(cache, `${env.origin.url}/a`)).to.match(/hit; ttl=(119|120)$/);
    });
  });

  describe('response caching headers (basic)', () => {
    it('no-store is never stored, even with cacheControl: false', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'no-store' }, 'x'));
      for (const options of [{}, { cacheControl: false, expireAfter: 60 }]) {
        const cache = env.cache(options);
        expect(await get(cache, `${env.origin.url}/a`)).to.match(/detail=no-store$/);
        await get(cache, `${env.origin.url}/a`);
      }
      expect(env.origin.hits('/a')).to.equal(4);
    });

    it('max-age, s-maxage and Expires set the lifetime', async () => {
      env.origin.route('/max-age', respond(200, { 'cache-control': 'max-age=100' }, 'x'));
      env.origin.route('/s-maxage', respond(200, { 'cache-control': 'max-age=100, s-maxage=200' }, 'x'));
      env.origin.route('/expires', respond(200, { date: new Date().toUTCString(), expires: new Date(Date.now() + 300_000).toUTCString() }, 'x'));
      const shared = env.cache();
      const base = env.origin.url;
      for (const path of ['/max-age', '/s-maxage', '/expires']) await get(shared, base + path);
      expect(await get(shared, `${base}/max-age`)).to.match(/ttl=(99|100)$/);
      expect(await get(shared, `${base}/s-maxage`)).to.match(/ttl=(199|200)$/);
      expect(await get(shared, `${base}/expires`)).to.match(/ttl=(298|299|300)$/);

      const privateCache = env.cache({ type: 'private' });
      await get(privateCache, `${base}/s-maxage`);
      expect(await get(privateCache, `${base}/s-maxage`), 's-maxage is for shared caches only').to.match(/ttl=(99|100)$/);
    });

    it('private is not stored in shared mode, and is in private mode', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'private, max-age=60' }, 'x'));
      const shared = env.cache({ type: 'shared' });
      expect(await get(shared, `${env.origin.url}/a`)).to.match(/detail=private$/);
      const privateCache = env.cache({ type: 'private' });
      await get(privateCache, `${env.origin.url}/a`);
      expect(await get(privateCache, `${env.origin.url}/a`)).to.match(/hit/);
      expect(env.origin.hits('/a')).to.equal(2);
    });
  });

  describe('methods, statuses and filter', () => {
    it('caches only the configured methods', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
      const cache = env.cache();
      expect(await get(cache, `${env.origin.url}/a`, { method: 'POST', body: 'q' })).to.equal('cachette; fwd=method');
      await get(cache, `${env.origin.url}/a`, { method: 'POST', body: 'q' });
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('stores only the configured statuses', async () => {
      env.origin.route('/missing', respond(404, { 'cache-control': 'max-age=60' }, 'nope'));
      env.origin.route('/ok', respond(200, { 'cache-control': 'max-age=60' }, 'yes'));
      const only200 = env.cache({ statuses: [200] });
      expect(await get(only200, `${env.origin.url}/missing`)).to.match(/detail=status$/);
      await get(only200, `${env.origin.url}/ok`);
      expect(await get(only200, `${env.origin.url}/ok`)).to.match(/hit/);

      const defaults = env.cache();
      await get(defaults, `${env.origin.url}/missing`);
      expect(await get(defaults, `${env.origin.url}/missing`), '404 with max-age is cacheable by default').to.match(/hit/);
    });

    it('filter decides per response', async () => {
      env.origin.route('/keep', respond(200, { 'cache-control': 'max-age=60', 'x-cache-me': 'yes' }, 'x'));
      env.origin.route('/skip', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
      const seen: string[] = [];
      const cache = env.cache({
        filter: ({ url, status, headers, method }) => {
          seen.push(`${method} ${status} ${new URL(url).pathname}`);
          return headers['x-cache-me'] === 'yes';
        },
      });
      await get(cache, `${env.origin.url}/keep`);
      expect(await get(cache, `${env.origin.url}/skip`)).to.match(/detail=filter$/);
      expect(await get(cache, `${env.origin.url}/keep`)).to.match(/hit/);
      expect(seen).to.deep.equal(['GET 200 /keep', 'GET 200 /skip']);
    });
  });
});
