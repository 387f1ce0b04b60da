/**
 * Fetch's cache modes (https://fetch.spec.whatwg.org/#concept-request-cache-mode)
 * with this cache as fetch's HTTP cache: each counts origin requests and
 * stored entries.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { request } from 'undici';
import { type CacheFetchInit, type HttpCache, rawPartitions } from '../../lib/cache.js';
import { useOrigin } from '../support.js';

describe("fetch's cache modes", () => {
  const env = useOrigin();
  const url = () => `${env.origin.url}/r`;
  let version: number;
  let maxAge: number;
  let conditionals: number;

  /** A versioned resource with an ETag: a conditional request for the current version gets a 304. */
  function resource(req: IncomingMessage, res: ServerResponse): void {
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] !== undefined) conditionals += 1;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': `max-age=${maxAge}` });
      res.end();
      return;
    }
    res.writeHead(200, { etag, 'cache-control': `max-age=${maxAge}`, 'content-type': 'text/plain' });
    res.end(`version ${version}`);
  }

  beforeEach(() => {
    version = 1;
    maxAge = 60;
    conditionals = 0;
    env.origin.route('/r', resource);
  });

  async function get(cache: HttpCache, mode?: CacheFetchInit['cache'] | string) {
    const response = await cache.fetch(url(), mode === undefined ? undefined : { cache: mode as never });
    const body = await response.text();
    await cache.settled();
    return { status: response.status, body, cacheStatus: response.headers.get('cache-status') ?? '', stored: await rawPartitions(cache).responses.size() };
  }

  /** What a default fetch now finds, without counting it as an origin request of the mode under test. */
  async function storedBody(cache: HttpCache): Promise<string> {
    const requests = env.origin.hits();
    const response = await cache.fetch(url(), { cache: 'only-if-cached' as never });
    expect(env.origin.hits()).to.equal(requests);
    return response.status === 504 ? '(nothing)' : response.text();
  }

  it('default: RFC 9111 — a miss is fetched and stored, a fresh entry is a hit', async () => {
    const cache = env.cache();
    expect(await get(cache)).to.include({ body: 'version 1', stored: 1 });
    expect(await get(cache, 'default')).to.include({ body: 'version 1', stored: 1 });
    expect(env.origin.hits()).to.equal(1);
  });

  it('no-store: neither reads nor writes the cache', async () => {
    const cache = env.cache();
    const first = await get(cache, 'no-store');
    expect(first).to.include({ body: 'version 1', stored: 0 });
    expect(first.cacheStatus).to.equal('cachette; fwd=bypass; detail=no-store');
    await get(cache);
    version = 2;
    // A fresh entry is there: no-store goes to the origin anyway, and leaves the entry as it was.
    expect(await get(cache, 'no-store')).to.include({ body: 'version 2', stored: 1 });
    expect(await storedBody(cache)).to.equal('version 1');
    expect(env.origin.hits()).to.equal(3);
    // Like the plain fetch, it tells the origin not to answer from a cache of its own.
    expect(env.origin.requests[2]?.headers['cache-control']).to.equal('no-cache');
  });

  it('reload: an unconditional request, whose response is stored', async () => {
    const cache = env.cache();
    await get(cache);
    version = 2;
    const reloaded = await get(cache, 'reload');
    expect(reloaded).to.include({ body: 'version 2', stored: 1 });
    expect(reloaded.cacheStatus).to.match(/^cachette; fwd=request; fwd-status=200; stored/);
    expect(conditionals).to.equal(0);
    expect(await storedBody(cache)).to.equal('version 2');
    expect(env.origin.hits()).to.equal(2);
  });

  it('reload does not wait for an identical request already on its way', async () => {
    let release: () => void = () => {};
    env.origin.route('/r', (req, res) => {
      if (env.origin.hits('/r') === 1) {
        release = () => resource(req, res);
        return;
      }
      resource(req, res);
    });
    const cache = env.cache();
    const slow = cache.fetch(url());
    while (env.origin.hits('/r') < 1) await new Promise((resolve) => setImmediate(resolve));
    version = 2;
    const reloaded = await get(cache, 'reload');
    expect(reloaded.body).to.equal('version 2');
    release();
    expect(await (await slow).text()).to.match(/^version/);
    expect(env.origin.hits('/r')).to.equal(2);
  });

  it('no-cache: a conditional request when there is a validator, then stored', async () => {
    const cache = env.cache();
    await get(cache);
    const validated = await get(cache, 'no-cache');
    expect(validated).to.include({ body: 'version 1', stored: 1 });
    expect(validated.cacheStatus).to.match(/^cachette; fwd=request; fwd-status=304; stored/);
    expect(conditionals).to.equal(1);
    version = 2;
    expect(await get(cache, 'no-cache')).to.include({ body: 'version 2', stored: 1 });
    expect(await storedBody(cache)).to.equal('version 2');
    expect(env.origin.hits()).to.equal(3);
  });

  it('no-cache validates even an immutable response that is still fresh', async () => {
    env.origin.route('/r', (req, res) => {
      if (req.headers['if-none-match'] === '"i"') {
        res.writeHead(304, { etag: '"i"', 'cache-control': 'max-age=600, immutable' });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"i"', 'cache-control': 'max-age=600, immutable' });
      res.end('immutable');
    });
    const cache = env.cache();
    await get(cache);
    expect((await get(cache, 'no-cache')).cacheStatus).to.match(/fwd=request; fwd-status=304/);
    expect(env.origin.hits()).to.equal(2);
  });

  it('force-cache: any stored response, however stale, without contacting the origin', async () => {
    maxAge = 0;
    const cache = env.cache();
    const missed = await get(cache, 'force-cache');
    expect(missed).to.include({ body: 'version 1', stored: 1 });
    expect(missed.cacheStatus).to.match(/^cachette; fwd=uri-miss; fwd-status=200; stored/);
    version = 2;
    const forced = await get(cache, 'force-cache');
    expect(forced).to.include({ body: 'version 1', stored: 1 });
    expect(forced.cacheStatus).to.match(/^cachette; hit; ttl=-?\d+; detail=force-cache$/);
    expect(env.origin.hits()).to.equal(1);
    // The default mode revalidates the same stale entry.
    expect((await get(cache)).body).to.equal('version 2');
    expect(env.origin.hits()).to.equal(2);
  });

  it('only-if-cached: a stored response however stale, or a 504 — never the origin', async () => {
    maxAge = 0;
    const cache = env.cache();
    const nothing = await get(cache, 'only-if-cached');
    expect(nothing).to.include({ status: 504, stored: 0 });
    expect(nothing.cacheStatus).to.equal('cachette; detail=only-if-cached');
    expect(env.origin.hits()).to.equal(0);
    await get(cache);
    const stale = await get(cache, 'only-if-cached');
    expect(stale).to.include({ status: 200, body: 'version 1', stored: 1 });
    expect(stale.cacheStatus).to.match(/detail=only-if-cached/);
    expect(env.origin.hits()).to.equal(1);
  });

  it("a Request's own cache mode counts as init.cache does", async () => {
    const cache = env.cache();
    await (await cache.fetch(new Request(url(), { cache: 'no-store' } as RequestInit))).text();
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
    await get(cache);
    version = 2;
    expect(await (await cache.fetch(new Request(url(), { cache: 'reload' } as RequestInit))).text()).to.equal('version 2');
    await cache.settled();
    expect(await storedBody(cache)).to.equal('version 2');
  });

  it('an unknown mode is a TypeError before any request', async () => {
    const cache = env.cache();
    const error = await cache.fetch(url(), { cache: 'sometimes' as never }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(TypeError);
    expect(env.origin.hits()).to.equal(0);
  });

  describe('through undici.request, as cachette.mode', () => {
    for (const [mode, expectation] of [
      ['no-store', { body: 'version 2', stored: 'version 1', hits: 2 }],
      ['reload', { body: 'version 2', stored: 'version 2', hits: 2 }],
      ['force-cache', { body: 'version 1', stored: 'version 1', hits: 1 }],
      ['only-if-cached', { body: 'version 1', stored: 'version 1', hits: 1 }],
    ] as const) {
      it(mode, async () => {
        maxAge = 0;
        const cache = env.cache();
        await get(cache);
        version = 2;
        const response = await request(url(), { dispatcher: cache.dispatcher, cachette: { mode } });
        expect(await response.body.text()).to.equal(expectation.body);
        await cache.settled();
        expect(await storedBody(cache)).to.equal(expectation.stored);
        expect(env.origin.hits()).to.equal(expectation.hits);
      });
    }
  });

  describe('through fetch with the dispatcher option: the modes fetch makes visible in its headers', () => {
    it('no-store and reload arrive as Cache-Control: no-cache (a revalidation); force-cache is the default mode', async () => {
      const cache = env.cache();
      const viaDispatcher = async (mode: string) => {
        const response = await globalThis.fetch(url(), { cache: mode, dispatcher: cache.dispatcher } as unknown as RequestInit);
        await response.text();
        return response.headers.get('cache-status');
      };
      await viaDispatcher('default');
      expect(await viaDispatcher('reload')).to.match(/^cachette; fwd=request; fwd-status=304/);
      expect(await viaDispatcher('no-store')).to.match(/^cachette; fwd=request; fwd-status=304/);
      expect(await viaDispatcher('no-cache')).to.match(/^cachette; fwd=request; fwd-status=304/);
      expect(await viaDispatcher('force-cache')).to.match(/^cachette; hit/);
      expect(conditionals).to.equal(3);
    });
  });
});
