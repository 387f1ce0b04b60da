/**
 * refreshAhead: an entry found in the last part of its freshness lifetime is
 * served and refreshed in the background, once, so its users never see it
 * expire. Counted in origin requests and `stats().refreshedAhead`, on the
 * injected clock.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { dropTables, dynamoStorage } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { Gate } from '../../fixtures/origin.js';
import { createCache } from '../../lib/cache.js';
import { fetchText, useOrigin } from '../support.js';

describe('refreshAhead', () => {
  const env = useOrigin({ clock: true });
  let version: number;
  const url = () => `${env.origin.url}/r`;

  function resource(req: IncomingMessage, res: ServerResponse): void {
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'max-age=100' });
      res.end();
      return;
    }
    res.writeHead(200, { etag, 'cache-control': 'max-age=100', 'content-type': 'text/plain' });
    res.end(`version ${version}`);
  }

  beforeEach(() => {
    version = 1;
    env.origin.route('/r', resource);
  });

  it('refreshes an entry found in the last fraction of its lifetime, once, while serving it; not before', async () => {
    const cache = env.cache({ refreshAhead: 0.2 });
    await fetchText(cache, url());
    await cache.settled();
    await env.clock.advance(79);
    expect((await fetchText(cache, url())).cacheStatus).to.equal('cachette; hit; ttl=21');
    await cache.settled();
    expect(env.origin.hits()).to.equal(1);

    version = 2;
    await env.clock.advance(6);
    const served = await Promise.all(Array.from({ length: 10 }, () => fetchText(cache, url())));
    expect(new Set(served.map((one) => one.body))).to.deep.equal(new Set(['version 1']));
    expect(served[0]?.cacheStatus).to.equal('cachette; hit; ttl=15; detail=refresh-ahead');
    await cache.settled();
    expect(env.origin.hits()).to.equal(2);
    expect(cache.stats()).to.include({ refreshedAhead: 1, hits: 11 });

    // Refreshed: fresh for its whole lifetime again, with the new version.
    await env.clock.advance(50);
    expect(await fetchText(cache, url())).to.include({ body: 'version 2', cacheStatus: 'cachette; hit; ttl=50' });
    await cache.settled();
    expect(env.origin.hits()).to.equal(2);
  });

  it('a 304 to the refresh renews the entry as it is', async () => {
    const cache = env.cache({ refreshAhead: 0.5 });
    await fetchText(cache, url());
    await env.clock.advance(60);
    await fetchText(cache, url());
    await cache.settled();
    expect(env.origin.requests.map((request) => request.headers['if-none-match'] ?? null)).to.deep.equal([null, '"v1"']);
    expect((await fetchText(cache, url())).cacheStatus).to.equal('cachette; hit; ttl=100');
  });

  it('is off by default, and a bad value is an error naming it', async () => {
    const cache = env.cache();
    await fetchText(cache, url());
    await env.clock.advance(99);
    await fetchText(cache, url());
    await cache.settled();
    expect(env.origin.hits()).to.equal(1);
    // createCache itself: the spec's storage (a redis-server's, in the Redis pass) is not made for a cache that is not.
    for (const bad of [1, -0.1, 2, Number.NaN, '0.1']) {
      expect(() => createCache({ refreshAhead: bad as never })).to.throw(TypeError, /refreshAhead must be a fraction/);
    }
  });

  describe('across instances (DynamoDB Local leases)', function () {
    this.timeout(120_000);
    before(async function () {
      this.timeout(180_000);
      await dynamoEndpoint();
    });
    after(() => dropTables());

    it('one instance refreshes: the one holding the lease; the others serve and do not', async () => {
      const gate = new Gate();
      const storage = await dynamoStorage();
      const options = { storage, refreshAhead: 0.2, coalesceAcrossInstances: true, timeouts: { read: 5 } };
      const a = env.cache(options);
      const b = env.cache(options);
      await fetchText(a, url());
      await a.settled();
      env.origin.route('/r', gate.guard(resource));
      await env.clock.advance(90);
      expect((await fetchText(a, url())).body).to.equal('version 1');
      // A's refresh holds the lease while the origin holds it.
      while (gate.waiting === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await fetchText(b, url())).body).to.equal('version 1');
      await b.settled();
      gate.open();
      await a.settled();
      expect(env.origin.hits()).to.equal(2);
      expect([a.stats().refreshedAhead, b.stats().refreshedAhead]).to.deep.equal([1, 0]);
    });
  });
});
