import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import type { HttpCache } from '../../lib/cache.js';
import { fetchText, httpDate, useOrigin } from '../support.js';

describe('RFC 9111 §4.2: freshness', () => {
  const env = useOrigin({ clock: true });
  const url = (path: string) => `${env.origin.url}${path}`;

  /** The second response's Cache-Status and the number of origin requests for the path. */
  async function second(cache: HttpCache, path: string): Promise<{ status: string | null; hits: number; age: string | null }> {
    await fetchText(cache, url(path));
    const again = await fetchText(cache, url(path));
    return { status: again.cacheStatus, hits: env.origin.hits(path), age: again.headers.get('age') };
  }

  describe('§4.2.1: freshness lifetime', () => {
    it('max-age sets it', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=100' }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/^cachette; hit; ttl=(99|100)$/);
    });

    it('s-maxage wins over max-age in a shared cache, and is ignored by a private one', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=100, s-maxage=200' }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/ttl=(199|200)$/);
      expect((await second(env.cache({ type: 'private' }), '/a')).status).to.match(/ttl=(99|100)$/);
    });

    it('max-age wins over Expires', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=100', expires: httpDate(1000, env.clock.now()) }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/ttl=(99|100)$/);
    });

    it('Expires minus Date sets it', async () => {
      env.origin.route('/a', respond(200, { date: httpDate(0, env.clock.now()), expires: httpDate(300, env.clock.now()) }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/ttl=(298|299|300)$/);
    });

    it('§5.3: an invalid Expires ("0", "-1", garbage) means already expired', async () => {
      const cache = env.cache();
      for (const [path, expires] of [
        ['/zero', '0'],
        ['/minus', '-1'],
        ['/junk', 'next tuesday'],
      ] as const) {
        env.origin.route(path, respond(200, { expires }, 'x'));
        const result = await second(cache, path);
        expect(result.hits, `Expires: ${expires}`).to.equal(2);
      }
    });

    it('Expires in the obsolete RFC 850 and asctime formats is understood', async () => {
      const future = new Date(Date.now() + 600_000);
      const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
      const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
      const pad = (n: number) => String(n).padStart(2, '0');
      const time = `${pad(future.getUTCHours())}:${pad(future.getUTCMinutes())}:${pad(future.getUTCSeconds())}`;
      const rfc850 = `${days[future.getUTCDay()]}, ${pad(future.getUTCDate())}-${months[future.getUTCMonth()]}-${String(future.getUTCFullYear()).slice(2)} ${time} GMT`;
      const asctime = `${days[future.getUTCDay()]?.slice(0, 3)} ${months[future.getUTCMonth()]} ${String(future.getUTCDate()).padStart(2, ' ')} ${time} ${future.getUTCFullYear()}`;
      env.origin.route('/rfc850', respond(200, { date: httpDate(0, env.clock.now()), expires: rfc850 }, 'x'));
      env.origin.route('/asctime', respond(200, { date: httpDate(0, env.clock.now()), expires: asctime }, 'x'));
      const cache = env.cache();
      expect((await second(cache, '/rfc850')).status).to.match(/ttl=(598|599|600)$/);
      expect((await second(cache, '/asctime')).status).to.match(/ttl=(598|599|600)$/);
    });

    it('an invalid max-age means stale', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=ten' }, 'x'));
      expect((await second(env.cache(), '/a')).hits).to.equal(2);
    });
  });

  describe('§4.2.2: heuristic freshness', () => {
    it('10% of the time since Last-Modified, for heuristically cacheable statuses', async () => {
      env.origin.route('/a', respond(200, { date: httpDate(0, env.clock.now()), 'last-modified': httpDate(-10_000, env.clock.now()) }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/ttl=(998|999|1000)$/);
    });

    it('not for other statuses unless marked public', async () => {
      env.origin.route('/a', respond(299, { date: httpDate(0, env.clock.now()), 'last-modified': httpDate(-10_000, env.clock.now()) }, 'x'));
      env.origin.route(
        '/b',
        respond(299, { date: httpDate(0, env.clock.now()), 'last-modified': httpDate(-10_000, env.clock.now()), 'cache-control': 'public' }, 'x'),
      );
      const cache = env.cache();
      expect((await second(cache, '/a')).hits).to.equal(2);
      expect((await second(cache, '/b')).status).to.match(/hit; ttl=(998|999|1000)$/);
    });

    it('configured expireAfter takes the place of heuristics', async () => {
      env.origin.route('/a', respond(200, { date: httpDate(0, env.clock.now()), 'last-modified': httpDate(-10_000, env.clock.now()) }, 'x'));
      expect((await second(env.cache({ expireAfter: 50 }), '/a')).status).to.match(/ttl=(49|50)$/);
    });
  });

  describe('§4.2.3: age', () => {
    it('the Age the origin (or an upstream cache) sent is counted', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=100', age: '30' }, 'x'));
      const result = await second(env.cache(), '/a');
      expect(result.status).to.match(/ttl=(69|70)$/);
      expect(Number(result.age)).to.be.within(30, 31);
    });

    it('a Date in the past makes the response older (apparent age)', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=100', date: httpDate(-40, env.clock.now()) }, 'x'));
      expect((await second(env.cache(), '/a')).status).to.match(/ttl=(59|60)$/);
    });

    it('a response older than its lifetime is stale on arrival', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=10', age: '20' }, 'x'));
      expect((await second(env.cache({ staleIfError: true }), '/a')).hits).to.equal(2);
    });
  });

  describe('§5.2.2: response directives on reuse', () => {
    it('no-cache: stored, but revalidated on every use', async () => {
      let version = 0;
      env.origin.route('/a', (req, res) => {
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache' });
          res.end();
          return;
        }
        version += 1;
        res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=600, no-cache' });
        res.end(`v${version}`);
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const again = await fetchText(cache, url('/a'));
      expect(again.body).to.equal('v1');
      expect(again.cacheStatus).to.match(/fwd=stale; fwd-status=304/);
      expect(env.origin.hits('/a')).to.equal(2);
      expect(env.origin.requests[1]?.headers['if-none-match']).to.equal('"v1"');
    });

    it('no-cache="field": the field is not sent on a hit without revalidation', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60, no-cache="x-token"', 'x-token': 'abc', 'x-other': 'kept' }, 'x'));
      const cache = env.cache();
      const first = await fetchText(cache, url('/a'));
      expect(first.headers.get('x-token')).to.equal('abc');
      const hit = await fetchText(cache, url('/a'));
      expect(hit.cacheStatus).to.match(/hit/);
      expect(hit.headers.get('x-token')).to.equal(null);
      expect(hit.headers.get('x-other')).to.equal('kept');
    });

    it('no-cache="field": hidden from ranges, 304s and stale-if-error answers made from the entry too', async () => {
      const headers = { 'cache-control': 'max-age=1, no-cache="x-token"', 'x-token': 'abc', etag: '"v1"', age: '0' };
      env.origin.route('/a', respond(200, headers, '0123456789'));
      const cache = env.cache({ staleIfError: true });
      await fetchText(cache, url('/a'));
      const range = await fetchText(cache, url('/a'), { headers: { range: 'bytes=0-3' } });
      expect(range.status).to.equal(206);
      expect(range.cacheStatus).to.match(/hit/);
      expect(range.headers.get('x-token')).to.equal(null);
      // undici's request, not fetch: fetch adds Cache-Control: no-cache to a conditional request.
      const notModified = await request(url('/a'), { dispatcher: cache.dispatcher, headers: { 'if-none-match': '"v1"' } });
      await notModified.body.dump();
      expect(notModified.statusCode).to.equal(304);
      expect(notModified.headers['cache-status']).to.match(/hit/);
      expect(notModified.headers['x-token']).to.equal(undefined);
      await env.clock.advance(1.1);
      env.origin.route('/a', respond(503, {}, 'down'));
      const stale = await fetchText(cache, url('/a'));
      expect(stale.status).to.equal(200);
      expect(stale.cacheStatus).to.match(/stale-if-error/);
      expect(stale.headers.get('x-token')).to.equal(null);
    });

    it('must-revalidate: a stale response is never served, not even with staleIfError', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=10, must-revalidate', age: '20', etag: '"x"' }, 'x'));
      const cache = env.cache({ staleIfError: true, staleWhileRevalidate: true });
      await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(503, {}, 'down'));
      const during = await fetchText(cache, url('/a'));
      expect(during.status).to.equal(503);
    });

    it('proxy-revalidate: like must-revalidate for a shared cache only', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=10, proxy-revalidate', age: '20', etag: '"x"' }, 'x'));
      const shared = env.cache({ staleWhileRevalidate: true });
      const privateCache = env.cache({ staleWhileRevalidate: true, type: 'private' });
      await fetchText(shared, url('/a'));
      await fetchText(privateCache, url('/a'));
      expect((await fetchText(shared, url('/a'))).cacheStatus).to.match(/fwd=stale/);
      expect((await fetchText(privateCache, url('/a'))).cacheStatus).to.match(/hit; ttl=-\d+; detail=stale-while-revalidate/);
    });

    it('RFC 8246 immutable: a fresh immutable response survives a max-age=0 reload', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600, immutable' }, 'x'));
      env.origin.route('/b', respond(200, { 'cache-control': 'max-age=600' }, 'x'));
      const cache = env.cache();
      const reload = { headers: { 'cache-control': 'max-age=0' } };
      await fetchText(cache, url('/a'));
      await fetchText(cache, url('/b'));
      await env.clock.advance(1);
      expect((await fetchText(cache, url('/a'), reload)).cacheStatus).to.match(/hit/);
      expect((await fetchText(cache, url('/b'), reload)).cacheStatus).to.match(/fwd=request/);
    });
  });

  describe('how expireAfter combines with headers', () => {
    it('cacheControl true: explicit freshness wins; expireAfter applies to responses without any', async () => {
      env.origin.route('/explicit', respond(200, { 'cache-control': 'max-age=5' }, 'x'));
      env.origin.route('/none', respond(200, {}, 'x'));
      const cache = env.cache({ expireAfter: 500 });
      expect((await second(cache, '/explicit')).status).to.match(/ttl=[45]$/);
      expect((await second(cache, '/none')).status).to.match(/ttl=(499|500)$/);
    });

    it('cacheControl false: expireAfter applies to every response, its headers ignored (no-store excepted)', async () => {
      env.origin.route('/explicit', respond(200, { 'cache-control': 'max-age=5, no-cache' }, 'x'));
      const cache = env.cache({ cacheControl: false, expireAfter: 500 });
      expect((await second(cache, '/explicit')).status).to.match(/hit; ttl=(499|500)$/);
    });
  });
});
