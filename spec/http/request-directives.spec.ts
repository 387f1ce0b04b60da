import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { rawPartitions } from '../../lib/cache.js';
import { FakeClock } from '../../lib/testing.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9111 §5.2.1: request directives', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;
  const withCacheControl = (value: string) => ({ headers: { 'cache-control': value } });

  beforeEach(() => {
    env.origin.route('/a', (req, res) => {
      if (req.headers['if-none-match'] === '"e"') {
        res.writeHead(304, { 'cache-control': 'max-age=100' });
        res.end();
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=100', etag: '"e"' });
      res.end('body');
    });
  });

  it('§5.2.1.4 no-cache: the stored response is revalidated first', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const result = await fetchText(cache, url('/a'), withCacheControl('no-cache'));
    expect(result.body).to.equal('body');
    expect(result.cacheStatus).to.match(/^cachette; fwd=request; fwd-status=304/);
    expect(env.origin.requests[1]?.headers['if-none-match']).to.equal('"e"');
  });

  it('§5.4 Pragma: no-cache, without Cache-Control, means the same', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    expect((await fetchText(cache, url('/a'), { headers: { pragma: 'no-cache' } })).cacheStatus).to.match(/fwd=request/);
    expect((await fetchText(cache, url('/a'), { headers: { pragma: 'no-cache', 'cache-control': 'max-stale' } })).cacheStatus).to.match(/hit/);
  });

  it('§5.2.1.5 no-store: the cache is bypassed and nothing is stored', async () => {
    const cache = env.cache();
    const result = await fetchText(cache, url('/a'), withCacheControl('no-store'));
    expect(result.cacheStatus).to.equal('cachette; fwd=request; detail=request-no-store');
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
  });

  it('§5.2.1.7 only-if-cached: 504 on a miss, the stored response on a hit, never the origin', async () => {
    const cache = env.cache();
    const miss = await fetchText(cache, url('/a'), withCacheControl('only-if-cached'));
    expect(miss.status).to.equal(504);
    expect(miss.cacheStatus).to.equal('cachette; detail=only-if-cached');
    expect(env.origin.hits('/a')).to.equal(0);
    await fetchText(cache, url('/a'));
    const hit = await fetchText(cache, url('/a'), withCacheControl('only-if-cached'));
    expect(hit.status).to.equal(200);
    expect(hit.body).to.equal('body');
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('§5.2.1.7 only-if-cached with a stale entry: 504, unless max-stale accepts it', async () => {
    env.origin.route('/old', respond(200, { 'cache-control': 'max-age=1', age: '10', etag: '"o"' }, 'old'));
    const cache = env.cache();
    await fetchText(cache, url('/old'));
    expect((await fetchText(cache, url('/old'), withCacheControl('only-if-cached'))).status).to.equal(504);
    expect((await fetchText(cache, url('/old'), withCacheControl('only-if-cached, max-stale=60'))).body).to.equal('old');
    expect(env.origin.hits('/old')).to.equal(1);
  });

  it('§5.2.1.1 max-age: a stored response older than that is revalidated', async () => {
    env.origin.route('/aged', respond(200, { 'cache-control': 'max-age=600', age: '100' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/aged'));
    expect((await fetchText(cache, url('/aged'), withCacheControl('max-age=200'))).cacheStatus).to.match(/hit/);
    expect((await fetchText(cache, url('/aged'), withCacheControl('max-age=50'))).cacheStatus).to.match(/fwd=request/);
  });

  it('§5.2.1.1 max-age=0 is revalidated even when the stored response is age 0 (a clock that stands still)', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
    env.origin.clock = clock;
    const cache = env.cache({ clock });
    await fetchText(cache, url('/a'));
    expect((await fetchText(cache, url('/a'))).cacheStatus).to.equal('cachette; hit; ttl=100');
    const validated = await fetchText(cache, url('/a'), withCacheControl('max-age=0'));
    expect(validated.cacheStatus).to.match(/^cachette; fwd=request; fwd-status=304/);
    expect(env.origin.requests[1]?.headers['if-none-match']).to.equal('"e"');
    expect((await fetchText(cache, url('/a'), withCacheControl('max-age=1'))).cacheStatus).to.match(/^cachette; hit/);
  });

  it('§5.2.1.2 max-stale: a stale response within the limit is served; bare max-stale accepts any', async () => {
    env.origin.route('/old', respond(200, { 'cache-control': 'max-age=1', age: '31', etag: '"o"' }, 'old'));
    const cache = env.cache();
    await fetchText(cache, url('/old'));
    const accepted = await fetchText(cache, url('/old'), withCacheControl('max-stale=60'));
    expect(accepted.cacheStatus).to.match(/^cachette; hit; ttl=-3\d; detail=max-stale$/);
    expect((await fetchText(cache, url('/old'), withCacheControl('max-stale'))).cacheStatus).to.match(/detail=max-stale/);
    expect((await fetchText(cache, url('/old'), withCacheControl('max-stale=10'))).cacheStatus).to.match(/fwd=stale/);
  });

  it('§5.2.1.2 max-stale does not override must-revalidate', async () => {
    env.origin.route('/strict', respond(200, { 'cache-control': 'max-age=1, must-revalidate', age: '31', etag: '"s"' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/strict'));
    expect((await fetchText(cache, url('/strict'), withCacheControl('max-stale'))).cacheStatus).to.match(/fwd=stale/);
  });

  it('§5.2.1.3 min-fresh: the response must stay fresh that much longer', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    expect((await fetchText(cache, url('/a'), withCacheControl('min-fresh=10'))).cacheStatus).to.match(/hit/);
    expect((await fetchText(cache, url('/a'), withCacheControl('min-fresh=500'))).cacheStatus).to.match(/fwd=request/);
  });

  it('directives are read from undici.request headers in any case and shape', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const response = await request(url('/a'), { dispatcher: cache.dispatcher, headers: ['Cache-Control', 'No-Cache'] });
    await response.body.text();
    expect(response.headers['cache-status']).to.match(/fwd=request/);
  });
});
