/**
 * Soft purges (`delete({ …, soft: true })`): entries become stale instead of
 * going, so what follows a purge is a revalidation — one, however many
 * requests come at once — never a stampede of full fetches at the origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { rawPartitions } from '../../lib/cache.js';
import type { CacheOptions } from '../../lib/options.js';
import { fetchText, useOrigin } from '../support.js';

describe('soft purges', () => {
  const env = useOrigin({ clock: true });
  let version: number;
  let fullResponses: number;
  let conditionals: number;
  const url = (path = '/r') => `${env.origin.url}${path}`;

  /** A resource with an ETag, tagged, that answers a conditional request for its version with a 304. */
  function resource(cacheControl: string) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      const etag = `"v${version}"`;
      const headers = { etag, 'cache-control': cacheControl, 'cache-tag': 'products' };
      if (req.headers['if-none-match'] !== undefined) conditionals += 1;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      fullResponses += 1;
      res.writeHead(200, { ...headers, 'content-type': 'text/plain' });
      res.end(`version ${version}`);
    };
  }

  beforeEach(() => {
    version = 1;
    fullResponses = 0;
    conditionals = 0;
    env.origin.route('/r', resource('max-age=600'));
    env.origin.route('/s', resource('max-age=600'));
  });

  function cache(options: CacheOptions = {}) {
    return env.cache({ cacheTagsHeader: 'cache-tag', ...options });
  }

  it('makes the entry stale, validators kept: the next request revalidates it (a 304 refreshes it)', async () => {
    const c = cache();
    await fetchText(c, url());
    await c.settled();
    expect(await c.delete({ entries: [url()], soft: true })).to.equal(1);
    expect(await c.contains(url())).to.equal(true);
    const [entry] = await c.inspect(url());
    expect(entry?.state).to.equal('stale');
    const after = await fetchText(c, url());
    await c.settled();
    expect(after.body).to.equal('version 1');
    expect(after.cacheStatus).to.match(/fwd=stale/);
    expect({ fullResponses, conditionals }).to.deep.equal({ fullResponses: 1, conditionals: 1 });
    expect((await fetchText(c, url())).cacheStatus).to.match(/^cachette; hit/);
    expect(env.origin.hits()).to.equal(2);
  });

  it('100 concurrent requests after a soft purge make 1 origin request', async () => {
    const c = cache();
    await fetchText(c, url());
    await c.settled();
    version = 2;
    await c.delete({ tags: ['products'], soft: true });
    const bodies = await Promise.all(Array.from({ length: 100 }, () => fetchText(c, url()).then((fetched) => fetched.body)));
    expect(new Set(bodies)).to.deep.equal(new Set(['version 2']));
    expect(env.origin.hits()).to.equal(2);
  });

  it('with stale-while-revalidate, 100 concurrent requests are served the stale entry while 1 refresh runs', async () => {
    env.origin.route('/r', resource('max-age=600, stale-while-revalidate=60'));
    const c = cache();
    await fetchText(c, url());
    await c.settled();
    version = 2;
    // An hour on: the stale window counts from the purge, not from when the entry went stale by its age.
    await env.clock.advance(500);
    await c.delete({ matching: { url: url() }, soft: true });
    const bodies = await Promise.all(Array.from({ length: 100 }, () => fetchText(c, url()).then((fetched) => fetched.body)));
    expect(new Set(bodies)).to.deep.equal(new Set(['version 1']));
    await c.settled();
    expect(env.origin.hits()).to.equal(2);
    expect((await fetchText(c, url())).body).to.equal('version 2');
    expect(env.origin.hits()).to.equal(2);
  });

  it('by tag, keeps the tag index: the entries can be soft-purged (or purged) by tag again', async () => {
    const c = cache();
    await fetchText(c, url('/r'));
    await fetchText(c, url('/s'));
    await c.settled();
    expect(await c.delete({ tags: ['products'], soft: true })).to.equal(2);
    // Already stale: nothing more to do.
    expect(await c.delete({ tags: ['products'], soft: true })).to.equal(0);
    await fetchText(c, url('/r'));
    await c.settled();
    expect(await c.delete({ tags: ['products'], soft: true })).to.equal(1);
    expect(await c.delete({ tags: ['products'] })).to.equal(2);
    expect(await rawPartitions(c).responses.size()).to.equal(0);
  });

  it('applies to what is named by entries, tags or matching; with expired or olderThan it is an error', async () => {
    const c = cache();
    await c.delete({ entries: [url()], soft: false });
    for (const options of [{ expired: true }, { olderThan: 60 }]) {
      await c.delete({ soft: true, ...options }).then(
        () => expect.fail('should have thrown'),
        (error: unknown) =>
          expect(error)
            .to.be.instanceOf(TypeError)
            .with.property('message')
            .that.matches(/expired and olderThan delete/),
      );
    }
    await c.delete({ entries: [url()], soft: 'yes' as never }).then(
      () => expect.fail('should have thrown'),
      (error: unknown) =>
        expect(error)
          .to.be.instanceOf(TypeError)
          .with.property('message')
          .that.matches(/soft as a boolean/),
    );
  });
});
