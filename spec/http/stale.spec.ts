import { expect } from 'chai';
import { request } from 'undici';
import { Gate, respond } from '../../fixtures/origin.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 5861: serving stale content', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  describe('§3 stale-while-revalidate', () => {
    it('serves the stale entry at once and refreshes it in the background', async () => {
      let version = 0;
      let answerRefresh: () => void = () => {};
      const refreshed = new Promise<void>((resolve) => {
        env.origin.route('/a', (_req, res) => {
          version += 1;
          const send = (): void => {
            res.writeHead(200, { 'cache-control': version === 1 ? 'max-age=1, stale-while-revalidate=60' : 'max-age=60', age: version === 1 ? '5' : '0' });
            res.end(`v${version}`);
            if (version > 1) resolve();
          };
          // The refresh is held until the stale response has been served: the caller must not wait for it.
          if (version > 1) answerRefresh = send;
          else send();
        });
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const stale = await fetchText(cache, url('/a'));
      expect(stale.body).to.equal('v1');
      expect(stale.cacheStatus).to.match(/^cachette; hit; ttl=-\d+; detail=stale-while-revalidate$/);
      while (version < 2) await new Promise((resolve) => setImmediate(resolve));
      answerRefresh();
      await refreshed;
      await cache.settled();
      const fresh = await fetchText(cache, url('/a'));
      expect(fresh.body).to.equal('v2');
      expect(fresh.cacheStatus).to.match(/^cachette; hit; ttl=\d+$/);
    });

    it('settled() waits for a refresh still on its way to the origin: a Lambda handler that returns after it leaves none in flight', async () => {
      let version = 0;
      let answerRefresh: (() => void) | undefined;
      env.origin.route('/a', (_req, res) => {
        version += 1;
        const send = (): void => {
          res.writeHead(200, { 'cache-control': version === 1 ? 'max-age=1, stale-while-revalidate=60' : 'max-age=60', age: version === 1 ? '5' : '0' });
          res.end(`v${version}`);
        };
        if (version > 1) answerRefresh = send;
        else send();
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const handler = async () => {
        const served = await fetchText(cache, url('/a'));
        await cache.settled();
        return served;
      };
      let returned = false;
      const invocation = handler().then((served) => {
        returned = true;
        return served;
      });
      while (answerRefresh === undefined) await new Promise((resolve) => setImmediate(resolve));
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(returned).to.equal(false);
      answerRefresh();
      expect((await invocation).body).to.equal('v1');
      // Nothing left for a frozen instance to resume: the refresh is stored.
      const fresh = await fetchText(cache, url('/a'));
      expect(fresh.body).to.equal('v2');
      expect(fresh.cacheStatus).to.match(/^cachette; hit/);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('a refresh whose answer may not be stored (a 304 with no-store) removes the stale entry: it is not served stale again and again', async () => {
      let requests = 0;
      env.origin.route('/a', (req, res) => {
        requests += 1;
        if (req.headers['if-none-match'] === '"e"') {
          res.writeHead(304, { etag: '"e"', 'cache-control': 'no-store' });
          res.end();
          return;
        }
        res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1, stale-while-revalidate=600', age: '5' });
        res.end(`v${requests}`);
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      await cache.settled();
      expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/detail=stale-while-revalidate/);
      await cache.settled();
      expect(requests).to.equal(2);
      const after = await fetchText(cache, url('/a'));
      expect(after.cacheStatus).to.match(/fwd=uri-miss/);
      expect(after.body).to.equal('v3');
    });

    it('a revalidation answered in full with what may not be stored removes the stale entry too', async () => {
      let requests = 0;
      env.origin.route('/a', (_req, res) => {
        requests += 1;
        res.writeHead(200, { etag: '"e"', 'cache-control': requests === 1 ? 'max-age=1' : 'no-store', age: requests === 1 ? '5' : '0' });
        res.end(`v${requests}`);
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      await cache.settled();
      expect((await fetchText(cache, url('/a'))).body).to.equal('v2');
      await cache.settled();
      expect(await cache.contains({ url: url('/a') })).to.equal(false);
    });

    it('refreshes exactly once per key however many requests see the stale entry', async () => {
      const gate = new Gate();
      gate.open();
      env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=1, stale-while-revalidate=60', age: '5' }, 'x')));
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      // The refresh the first of them starts is held at the origin while the others see the stale entry.
      gate.close();
      const stale = await Promise.all(Array.from({ length: 20 }, () => fetchText(cache, url('/a'))));
      gate.open();
      expect(stale.every((r) => /stale-while-revalidate/.test(r.cacheStatus ?? ''))).to.equal(true);
      await cache.settled();
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('a HEAD served stale refreshes the entry with a GET (a HEAD would bring no body to store)', async () => {
      const methods: string[] = [];
      let version = 0;
      env.origin.route('/a', (req, res) => {
        methods.push(req.method ?? '');
        version += 1;
        res.writeHead(200, { 'cache-control': version === 1 ? 'max-age=1, stale-while-revalidate=60' : 'max-age=60', age: version === 1 ? '5' : '0' });
        res.end(req.method === 'HEAD' ? undefined : `v${version}`);
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      const head = await request(url('/a'), { method: 'HEAD', dispatcher: cache.dispatcher });
      await head.body.dump();
      expect(head.headers['cache-status']).to.match(/detail=stale-while-revalidate/);
      await cache.settled();
      expect(methods).to.deep.equal(['GET', 'GET']);
      const fresh = await fetchText(cache, url('/a'));
      expect(fresh.body).to.equal('v2');
      expect(fresh.cacheStatus).to.match(/^cachette; hit; ttl=\d+$/);
    });

    it('revalidates in the background with the stored validator', async () => {
      env.origin.route('/a', (req, res) => {
        if (req.headers['if-none-match'] === '"e"') {
          res.writeHead(304, { 'cache-control': 'max-age=100' });
          res.end();
          return;
        }
        res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1, stale-while-revalidate=60', age: '5' });
        res.end('body');
      });
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      await fetchText(cache, url('/a'));
      await cache.settled();
      const hit = await fetchText(cache, url('/a'));
      expect(hit.cacheStatus).to.match(/^cachette; hit; ttl=(99|100)$/);
      expect(hit.body).to.equal('body');
    });

    it('the option: true serves any stale entry, seconds bound it', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=1', age: '100', etag: '"x"' }, 'x'));
      const always = env.cache({ staleWhileRevalidate: true });
      const bounded = env.cache({ staleWhileRevalidate: 10 });
      for (const cache of [always, bounded]) await fetchText(cache, url('/a'));
      expect((await fetchText(always, url('/a'))).cacheStatus).to.match(/detail=stale-while-revalidate/);
      expect((await fetchText(bounded, url('/a'))).cacheStatus).to.match(/fwd=stale/);
    });

    it('past its window, the entry is revalidated while the caller waits', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=1, stale-while-revalidate=2', age: '10', etag: '"e"' }, 'x'));
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/fwd=stale/);
    });
  });

  describe('§4 stale-if-error', () => {
    function staleEntry(directive = 'stale-if-error=60') {
      return respond(200, { 'cache-control': `max-age=1, ${directive}`, age: '5' }, 'stale but good');
    }

    it('a 5xx from the origin is replaced by the stale entry', async () => {
      env.origin.route('/a', staleEntry());
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      for (const status of [500, 502, 503, 504]) {
        env.origin.route('/a', respond(status, {}, 'origin error'));
        const result = await fetchText(cache, url('/a'));
        expect(result.status, `on ${status}`).to.equal(200);
        expect(result.body).to.equal('stale but good');
        expect(result.cacheStatus).to.match(new RegExp(`^cachette; fwd=stale; fwd-status=${status}; ttl=-\\d+; detail=stale-if-error$`));
      }
    });

    it('other errors (404, 501) are passed on', async () => {
      env.origin.route('/a', staleEntry());
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(404, {}, 'gone'));
      expect((await fetchText(cache, url('/a'))).status).to.equal(404);
    });

    it('a refused connection is replaced by the stale entry', async () => {
      env.origin.route('/a', staleEntry());
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      await env.origin.close();
      const result = await fetchText(cache, url('/a'));
      expect(result.body).to.equal('stale but good');
      expect(result.cacheStatus).to.match(/^cachette; fwd=stale; ttl=-\d+; detail=stale-if-error$/);
    });

    it('a reset connection is replaced by the stale entry', async () => {
      env.origin.route('/a', staleEntry());
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      env.origin.route('/a', (req) => {
        req.socket.destroy();
      });
      expect((await fetchText(cache, url('/a'))).body).to.equal('stale but good');
    });

    it('a timeout is replaced by the stale entry', async () => {
      const { Agent } = await import('undici');
      env.origin.route('/a', staleEntry());
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      // An origin that never answers (until the spec is over).
      let answer: () => void = () => undefined;
      env.origin.route('/a', (_req, res) => {
        answer = () => res.end('too late');
      });
      const impatient = new Agent({ headersTimeout: 100 }).compose(cache.interceptor());
      try {
        const response = await cache.fetch(url('/a'), { dispatcher: impatient });
        expect(await response.text()).to.equal('stale but good');
      } finally {
        answer();
        await impatient.close();
      }
    });

    it('without stale-if-error, the error reaches the caller', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=1', age: '5', etag: '"e"' }, 'x'));
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(503, {}, 'down'));
      expect((await fetchText(cache, url('/a'))).status).to.equal(503);
    });

    it('the option: true (any staleness) or seconds past staleness', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=1', age: '100', etag: '"e"' }, 'old'));
      const always = env.cache({ staleIfError: true });
      const bounded = env.cache({ staleIfError: 30 });
      for (const cache of [always, bounded]) await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(500, {}, 'down'));
      expect((await fetchText(always, url('/a'))).body).to.equal('old');
      expect((await fetchText(bounded, url('/a'))).status).to.equal(500);
    });

    it('must-revalidate forbids it', async () => {
      env.origin.route('/a', staleEntry('stale-if-error=60, must-revalidate'));
      const cache = env.cache({ staleIfError: true });
      await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(503, {}, 'down'));
      expect((await fetchText(cache, url('/a'))).status).to.equal(503);
    });

    it('a request may ask for it (Cache-Control: stale-if-error=N)', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=1', age: '5', etag: '"e"' }, 'old'));
      const cache = env.cache();
      await fetchText(cache, url('/a'));
      env.origin.route('/a', respond(503, {}, 'down'));
      expect((await fetchText(cache, url('/a'), { headers: { 'cache-control': 'stale-if-error=60' } })).body).to.equal('old');
    });
  });
});
