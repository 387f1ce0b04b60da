/**
 * Per-request options: `cachette` in cache.fetch's init and in undici's
 * dispatch options, the same shape in both, never sent to the origin.
 */
import { expect } from 'chai';
import { request } from 'undici';
import { type CacheFetchInit, type HttpCache, rawPartitions } from '../../lib/cache.js';
import type { RequestCacheOptions } from '../../lib/policy/control.js';
import { useOrigin } from '../support.js';

type Via = (cache: HttpCache, url: string, cachette?: RequestCacheOptions) => Promise<{ status: number; body: string; cacheStatus: string }>;

const viaFetch: Via = async (cache, url, cachette) => {
  const response = await cache.fetch(url, cachette === undefined ? undefined : { cachette });
  return { status: response.status, body: await response.text(), cacheStatus: response.headers.get('cache-status') ?? '' };
};

const viaRequest: Via = async (cache, url, cachette) => {
  const response = await request(url, { dispatcher: cache.dispatcher, ...(cachette === undefined ? {} : { cachette }) });
  const status = response.headers['cache-status'];
  return { status: response.statusCode, body: await response.body.text(), cacheStatus: Array.isArray(status) ? status.join(', ') : (status ?? '') };
};

describe('per-request options (cachette)', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;
  let version: number;

  beforeEach(() => {
    version = 1;
    // No freshness of its own: the cache's expireAfter decides.
    env.origin.route('/plain', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', etag: `"v${version}"` });
      res.end(`version ${version}`);
    });
    env.origin.route('/fails', (_req, res) => {
      if (version === 1) {
        // Stale at once; kept for revalidation (it has a validator).
        res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"good"' });
        res.end('good');
        return;
      }
      res.writeHead(500);
      res.end('broken');
    });
  });

  for (const [name, via] of [
    ['cache.fetch init', viaFetch],
    ['undici.request dispatch options', viaRequest],
  ] as const) {
    describe(`through ${name}`, () => {
      it("expireAfter: this response's lifetime, in place of the configured one", async () => {
        const cache = env.cache({ expireAfter: 60 });
        const result = await via(cache, url('/plain'), { expireAfter: 5 });
        expect(result.cacheStatus).to.match(/stored; ttl=[45]$/);
        expect((await via(cache, url('/plain'))).cacheStatus).to.match(/^cachette; hit; ttl=[45]$/);
      });

      it("expireAfter: 'no-store' keeps this response out of the cache", async () => {
        const cache = env.cache({ expireAfter: 60 });
        const result = await via(cache, url('/plain'), { expireAfter: 'no-store' });
        expect(result.cacheStatus).to.match(/detail=expire-after$/);
        await cache.settled();
        expect(await rawPartitions(cache).responses.size()).to.equal(0);
      });

      it('refresh: fetched anew, unconditionally, and stored', async () => {
        const cache = env.cache({ expireAfter: 60 });
        await via(cache, url('/plain'));
        version = 2;
        const refreshed = await via(cache, url('/plain'), { refresh: true });
        expect(refreshed.body).to.equal('version 2');
        expect(env.origin.requests[1]?.headers['if-none-match']).to.equal(undefined);
        await cache.settled();
        expect((await via(cache, url('/plain'))).body).to.equal('version 2');
        expect(env.origin.hits()).to.equal(2);
      });

      it('bypass: the cache is neither read nor written', async () => {
        const cache = env.cache({ expireAfter: 60 });
        await via(cache, url('/plain'));
        version = 2;
        const bypassed = await via(cache, url('/plain'), { bypass: true });
        expect(bypassed).to.include({ body: 'version 2', cacheStatus: 'cachette; fwd=bypass; detail=no-store' });
        await cache.settled();
        expect((await via(cache, url('/plain'))).body).to.equal('version 1');
        expect(env.origin.hits()).to.equal(2);
      });

      it('key: requests given one key share one entry', async () => {
        const cache = env.cache({ expireAfter: 60 });
        await via(cache, url('/plain?utm=1'), { key: 'plain-resource' });
        const shared = await via(cache, url('/plain?utm=2'), { key: 'plain-resource' });
        expect(shared.cacheStatus).to.match(/^cachette; hit/);
        expect(env.origin.hits()).to.equal(1);
        expect(await cache.contains({ key: 'plain-resource' })).to.equal(true);
      });

      it('staleIfError: a stale entry answers an origin error for this request only', async () => {
        const cache = env.cache();
        await via(cache, url('/fails'));
        version = 2;
        const rescued = await via(cache, url('/fails'), { staleIfError: true });
        expect(rescued).to.include({ status: 200, body: 'good' });
        expect(rescued.cacheStatus).to.match(/detail=stale-if-error/);
        expect((await via(cache, url('/fails'))).status).to.equal(500);
      });

      it('nothing of it reaches the origin', async () => {
        const cache = env.cache({ expireAfter: 60 });
        await via(cache, url('/plain'), { expireAfter: 5, key: 'k', staleIfError: 30 });
        await via(cache, url('/plain?other'), { bypass: true });
        const plain = await request(url('/plain?plain'));
        await plain.body.text();
        const [first, second, third] = env.origin.requests.map((sent) => Object.keys(sent.headers).sort());
        expect(first).to.deep.equal(second);
        expect(JSON.stringify(env.origin.requests.map((sent) => sent.headers))).not.to.contain('cachette');
        expect(third?.length).to.be.greaterThan(0);
      });

      const invalid: Array<[string, unknown, RegExp]> = [
        ['not an object', 'refresh', /cachette must be an object/],
        ['an unknown member', { refersh: true }, /unknown per-request option cachette\.refersh/],
        ['a bad mode', { mode: 'sometimes' }, /cachette\.mode must be one of/],
        ['a bad expireAfter', { expireAfter: -1 }, /cachette\.expireAfter must be/],
        ['an empty key', { key: '' }, /cachette\.key must be a non-empty string/],
        ['a bad staleIfError', { staleIfError: 'always' }, /cachette\.staleIfError must be/],
        ['a non-boolean refresh', { refresh: 'yes' }, /cachette\.refresh must be a boolean/],
        ['bypass with refresh', { bypass: true, refresh: true }, /cachette\.refresh conflicts with cachette\.bypass/],
      ];
      for (const [label, value, message] of invalid) {
        it(`${label}: a TypeError naming the option, before any I/O`, async () => {
          const cache = env.cache();
          const error = await via(cache, url('/plain'), value as RequestCacheOptions).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error).to.be.instanceOf(TypeError);
          expect((error as TypeError).message).to.match(message);
          expect(env.origin.hits()).to.equal(0);
        });
      }
    });
  }

  it("fetch's cache mode and a per-request option that disagree: a TypeError", async () => {
    const cache = env.cache();
    const init: CacheFetchInit = { cache: 'force-cache', cachette: { refresh: true } };
    const error = await cache.fetch(url('/plain'), init).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect((error as TypeError).message).to.equal('cachette.refresh conflicts with cache: "force-cache"');
    // Agreeing ones are fine.
    const agreed = await cache.fetch(url('/plain'), { cache: 'reload', cachette: { refresh: true } });
    expect(agreed.status).to.equal(200);
  });

  it('a per-request key does not let two credentials share an entry', async () => {
    env.origin.route('/me', (req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60' });
      res.end(`user ${req.headers.authorization}`);
    });
    const cache = env.cache({ credentialed: 'per-credential' });
    const as = async (who: string) => (await cache.fetch(url('/me'), { headers: { authorization: who }, cachette: { key: 'me' } })).text();
    expect(await as('alice')).to.equal('user alice');
    expect(await as('bob')).to.equal('user bob');
    expect(await as('alice')).to.equal('user alice');
    expect(env.origin.hits('/me')).to.equal(2);
  });
});
